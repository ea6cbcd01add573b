import type { Clock } from '../util/index.js';
import { sleep } from '../util/index.js';
import { StopError } from './errors.js';
import type { ProcessHandle } from './handle.js';
import { descendantsOf, groupMembers, isLiveStat, listStats, liveDescendants, readStat, type ProcStat } from './proc.js';
import { findMarked } from './run-mark.js';

/**
 * Signals and stops. The one rule: never signal a pid that is not ours any more. A group id
 * cannot be reused while any member lives (the kernel keeps the pid reserved), so signalling the
 * group is safe unless a *new* process now has the leader's pid: that is checked by start time.
 */

function send(target: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch {
    return false; // ESRCH: nobody left; EPERM: not ours to signal
  }
}

/** Signals the handle's group (or, for an unmanaged process, its pid). False when nothing of ours is left. */
export function signalProcess(h: ProcessHandle, signal: NodeJS.Signals): boolean {
  // Our own child that has not exited is not reaped yet, so its pid cannot have been reused.
  if (!h.adopted && h.exit === undefined && h.pgid !== undefined) return send(-h.pgid, signal);
  const leader = readStat(h.pid);
  const reused = leader !== undefined && h.startTimeTicks !== undefined && leader.startTimeTicks !== h.startTimeTicks;
  if (reused) return false;
  if (h.pgid !== undefined) return send(-h.pgid, signal);
  return isLiveStat(leader, h.startTimeTicks) && send(h.pid, signal);
}

/**
 * Sends the first signal of a stop and returns the descendants that had left the group (setsid,
 * setpgid), which only `tree` looks for: the tree is read before the signal, because once the
 * leader dies an escaped child is re-parented to init and the tree no longer shows it (the run
 * mark still does, unless the child cleared its environment).
 */
function signalTree(h: ProcessHandle, signal: NodeJS.Signals, tree: boolean): ProcStat[] {
  const escaped = tree && h.pgid !== undefined ? liveDescendants(h.pid).filter((s) => s.pgrp !== h.pgid) : [];
  signalProcess(h, signal);
  signalEscaped(escaped, signal);
  return escaped;
}

/** An escaped descendant is still the one we saw: alive, with the same start time. */
function stillThere(s: ProcStat): boolean {
  return isLiveStat(readStat(s.pid), s.startTimeTicks);
}

function signalEscaped(escaped: readonly ProcStat[], signal: NodeJS.Signals): void {
  for (const s of escaped) if (stillThere(s)) send(s.pid, signal);
}

/** Processes that carry the handle's run mark outside its group: those a group signal misses. */
async function markedOutside(h: ProcessHandle): Promise<ProcStat[]> {
  if (h.runMark === undefined) return [];
  const found = await findMarked(h.runMark, h.startTimeTicks ?? 0);
  return found.filter((s) => s.pid !== h.pid && (h.pgid === undefined || s.pgrp !== h.pgid));
}

/**
 * Finds the run's marked processes outside the group (those whose parent chain broke, which the
 * tree walk cannot see), adds the new ones to `progress.escaped` and sends them `signal`. Runs
 * after the group's signal, so the stop signal is not held up by the scan.
 */
function signalMarked(h: ProcessHandle, progress: StopProgress, signal: NodeJS.Signals): void {
  if (h.runMark === undefined) return; // spawned before it was `tree`, or adopted without a recorded mark
  const done = markedOutside(h).then((found) => {
    const known = new Set(progress.escaped.map((s) => s.pid));
    for (const s of found) {
      if (known.has(s.pid)) continue; // the tree walk had it: signalled already
      progress.escaped.push(s);
      if (stillThere(s)) send(s.pid, signal);
    }
  });
  // Awaited by the waits of this stop; until then a failed scan must not count as unhandled.
  done.catch(() => undefined);
  progress.marked = done;
}

/** Live processes that belong to the handle: group members, plus descendants that left the group (setsid). */
export function membersOf(h: ProcessHandle, stats: readonly ProcStat[]): ProcStat[] {
  if (h.pgid === undefined) {
    const own = stats.find((s) => s.pid === h.pid);
    return own && isLiveStat(own, h.startTimeTicks) ? [own] : [];
  }
  const members = groupMembers(h.pgid, stats).filter((s) => isLiveStat(s));
  const seen = new Set(members.map((s) => s.pid));
  for (const d of descendantsOf(h.pid, stats)) if (!seen.has(d.pid) && isLiveStat(d)) members.push(d);
  return members;
}

/** True when no live member of the group is left (fast path: kill(-pgid, 0) fails). */
function groupGone(h: ProcessHandle): boolean {
  if (h.exit === undefined) return false;
  if (h.pgid === undefined) return true;
  if (!send(-h.pgid, 0)) return true;
  return membersOf(h, listStats()).length === 0; // zombies still count for kill(…, 0)
}

/** True once none of the escaped descendants lives. */
function escapedGone(escaped: readonly ProcStat[]): boolean {
  return !escaped.some(stillThere);
}

/**
 * Resolves true when the leader has exited and nothing of its group or its escaped descendants
 * is left, false when `ms` ran out first; rejects with the reason when `abort` fires, or with the
 * error of a failed scan for marked processes. One timer and one listener per wait: a stop of
 * hundreds of processes pays this per process.
 */
async function waitGone(h: ProcessHandle, progress: StopProgress, clock: Clock, ms: number, abort?: AbortSignal): Promise<boolean> {
  abort?.throwIfAborted();
  const until = clock.now() + ms;
  if (h.exit === undefined) {
    const exited = await new Promise<boolean>((resolve, reject) => {
      const done = (ok: boolean): void => {
        timer.cancel();
        abort?.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = (): void => {
        timer.cancel();
        reject(abort?.reason as Error);
      };
      const timer = clock.setTimer(() => done(false), ms);
      abort?.addEventListener('abort', onAbort, { once: true });
      void h.exited.then(() => done(true));
    });
    if (!exited) return false;
  }
  // Nothing counts as gone before the scan has said what else carries the mark.
  if (progress.marked) await progress.marked;
  // Grandchildren may outlive the leader by a little; they get the rest of the time.
  while (!groupGone(h) || !escapedGone(progress.escaped)) {
    const left = until - clock.now();
    if (left <= 0) return false;
    await sleep(clock, Math.min(20, left), abort);
  }
  return true;
}

/**
 * How far a stop of one run got. Kept by the caller across calls, so a stop whose call was
 * aborted resumes where it was: no second stop signal, and the grace runs from the first one
 * (otherwise a grace longer than the engine's call timeout would never reach SIGKILL).
 */
export interface StopProgress {
  /** Clock time of the stop signal; undefined until it is sent. */
  signalledAt: number | undefined;
  /** Descendants that had left the group when the signal went out, and those the run-mark scan found. */
  escaped: ProcStat[];
  /** The run-mark scan of the last signal (`tree` with a run mark); settles once it has signalled what it found. */
  marked?: Promise<void> | undefined;
}

/** Options of `stopProcess`. */
export interface StopOptions {
  readonly signal: NodeJS.Signals;
  readonly graceMs: number;
  readonly clock: Clock;
  /** Skip the stop signal and SIGKILL at once. */
  readonly kill?: boolean;
  /** Aborting stops the wait during the grace period (rejects; nothing is killed). */
  readonly abort?: AbortSignal;
  /** How long to wait after SIGKILL before giving up with `StopError`. Default 5 000 ms. */
  readonly killWaitMs?: number;
  /**
   * Also signal descendants that left the group (the spec's `killMode: tree`): those in the
   * leader's tree, read before the signal, and those carrying the handle's run mark. Default false.
   */
  readonly tree?: boolean;
  /** Pass the same object to every call for one run (see `StopProgress`). Default: a fresh one. */
  readonly progress?: StopProgress;
}

/**
 * Stop signal to the group (with `tree`, to descendants that left it too) → wait up to the grace period →
 * SIGKILL to all of them → wait until none is left. Resolves with true when SIGKILL was needed.
 * Aborting `abort` during the grace period rejects with its reason and leaves the process to a
 * later call, which resumes the same stop when given the same `progress`.
 */
export async function stopProcess(h: ProcessHandle, opts: StopOptions): Promise<boolean> {
  const progress = opts.progress ?? { signalledAt: undefined, escaped: [] };
  const tree = opts.tree ?? false;
  if (progress.signalledAt === undefined || opts.kill) {
    const signal = opts.kill ? 'SIGKILL' : opts.signal;
    progress.escaped = signalTree(h, signal, tree);
    // The grace counts from the signal, so the clock is read once it has gone out.
    progress.signalledAt ??= opts.clock.now();
    if (tree) signalMarked(h, progress, signal);
  }
  if (!opts.kill) {
    const graceLeft = Math.max(0, progress.signalledAt + opts.graceMs - opts.clock.now());
    try {
      if (await waitGone(h, progress, opts.clock, graceLeft, opts.abort)) return false;
    } catch (err) {
      // Aborted: the caller gives up waiting (a shorter grace comes with the next call); no SIGKILL yet.
      if (opts.abort?.aborted) throw err;
    }
    signalProcess(h, 'SIGKILL');
    signalEscaped(progress.escaped, 'SIGKILL');
    // Again: the grace gave the run time to start more (a cleanup helper in a session of its own).
    if (tree) signalMarked(h, progress, 'SIGKILL');
  }
  const killWaitMs = opts.killWaitMs ?? 5_000;
  let gone = false;
  try {
    gone = await waitGone(h, progress, opts.clock, killWaitMs);
  } catch {
    // an abort (this wait has none) or a failed scan: both end in the StopError below
  }
  if (!gone) throw new StopError(`process ${h.pid} and its group were still there ${killWaitMs}ms after SIGKILL`, { pid: h.pid });
  return true;
}

/**
 * Kills what is left of a run whose leader exited by itself (a crashed service must not leave
 * workers behind): its group at once, then, for a run with a mark (`killMode: tree`), every
 * process the scan finds carrying it. Resolves once those are signalled; rejects when /proc
 * could not be scanned. The runtime calls it once per such exit.
 */
export async function killLeftovers(h: ProcessHandle): Promise<void> {
  if (h.pgid !== undefined && send(-h.pgid, 0)) signalProcess(h, 'SIGKILL');
  if (h.runMark === undefined) return;
  // Group members too: one forked after the group's SIGKILL went out would survive it.
  for (const s of await findMarked(h.runMark, h.startTimeTicks ?? 0)) if (s.pid !== h.pid && stillThere(s)) send(s.pid, 'SIGKILL');
}
