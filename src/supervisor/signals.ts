import type { Clock } from '../util/index.js';
import { sleep } from '../util/index.js';
import { StopError } from './errors.js';
import type { ProcessHandle } from './handle.js';
import { descendantsOf, groupMembers, isLiveStat, listStats, liveDescendants, readStat, type ProcStat } from './proc.js';

/**
 * Signals and stops. The one rule: never signal a pid that is not ours any more. A group id
 * cannot be reused while any member lives (the kernel keeps the pid reserved), so signalling the
 * group is safe unless a *new* process now has the leader's pid: that is checked by start time.
 */

function send(target: number, signal: NodeJS.Signals | 0): boolean {
  // A failed kill is an expected answer here (every stop ends with one), not an error worth a
  // stack trace: capturing one costs more than the syscall.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    process.kill(target, signal);
    return true;
  } catch {
    return false; // ESRCH: nobody left; EPERM: not ours to signal
  } finally {
    Error.stackTraceLimit = limit;
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

interface FirstSignal {
  readonly h: ProcessHandle;
  readonly signal: NodeJS.Signals;
  readonly resolve: (escaped: ProcStat[]) => void;
}

let pending: FirstSignal[] = [];

/**
 * Sends the first signal of a stop and returns the descendants that left the group (setsid).
 * Stops requested in one turn of the event loop are batched: every tree is read before any of
 * them is signalled (later, a dying parent would orphan its escaped child and hide it), and the
 * group signals go out in one tight loop, as a bare kill loop's would.
 */
function firstSignal(h: ProcessHandle, signal: NodeJS.Signals): Promise<ProcStat[]> {
  return new Promise((resolve) => {
    if (pending.push({ h, signal, resolve }) === 1) setImmediate(flushFirstSignals);
  });
}

function flushFirstSignals(): void {
  const batch = pending;
  pending = [];
  const escapees = batch.map(({ h }) => (h.pgid === undefined ? [] : liveDescendants(h.pid).filter((s) => s.pgrp !== h.pgid)));
  for (const p of batch) signalProcess(p.h, p.signal);
  batch.forEach((p, i) => {
    const escaped = escapees[i] ?? [];
    for (const s of escaped) if (isLiveStat(readStat(s.pid), s.startTimeTicks)) send(s.pid, p.signal);
    p.resolve(escaped);
  });
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

/** Resolves when the leader has exited and its group is empty, or rejects with the signal's reason. */
async function waitGone(h: ProcessHandle, clock: Clock, signal: AbortSignal): Promise<void> {
  if (h.exit === undefined) {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      void h.exited.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      if (signal.aborted) onAbort();
    });
  }
  // Grandchildren may outlive the leader by a little; they get the rest of the grace period.
  while (!groupGone(h)) await sleep(clock, 20, signal);
}

/**
 * How far a stop of one run got. Kept by the caller across calls, so a stop whose call was
 * aborted resumes where it was: no second stop signal, and the grace runs from the first one
 * (otherwise a grace longer than the engine's call timeout would never reach SIGKILL).
 */
export interface StopProgress {
  /** Clock time of the stop signal; undefined until it is sent. */
  signalledAt: number | undefined;
  /** Descendants that had left the group when the signal went out. */
  escaped: ProcStat[];
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
  /** Pass the same object to every call for one run (see `StopProgress`). Default: a fresh one. */
  readonly progress?: StopProgress;
}

/**
 * Stop signal to the group (and to descendants that left it) → wait up to the grace period →
 * SIGKILL to all of them → wait until none is left. Resolves with true when SIGKILL was needed.
 * Aborting `abort` during the grace period rejects with its reason and leaves the process to a
 * later call, which resumes the same stop when given the same `progress`.
 */
export async function stopProcess(h: ProcessHandle, opts: StopOptions): Promise<boolean> {
  const progress = opts.progress ?? { signalledAt: undefined, escaped: [] };
  if (progress.signalledAt === undefined || opts.kill) {
    progress.escaped = await firstSignal(h, opts.kill ? 'SIGKILL' : opts.signal);
    progress.signalledAt ??= opts.clock.now();
  }
  const { escaped } = progress;
  const signalAll = (sig: NodeJS.Signals): void => {
    signalProcess(h, sig);
    for (const s of escaped) if (isLiveStat(readStat(s.pid), s.startTimeTicks)) send(s.pid, sig);
  };
  const escapedGone = (): boolean => escaped.every((s) => !isLiveStat(readStat(s.pid), s.startTimeTicks));
  if (!opts.kill) {
    const graceLeft = Math.max(0, progress.signalledAt + opts.graceMs - opts.clock.now());
    const grace = deadline(opts.clock, graceLeft, opts.abort);
    try {
      await waitGone(h, opts.clock, grace.signal);
      while (!escapedGone()) await sleep(opts.clock, 20, grace.signal);
      return false;
    } catch (err) {
      // Aborted: the caller gives up waiting (a shorter grace comes with the next call); no SIGKILL yet.
      if (opts.abort?.aborted) throw err;
    } finally {
      grace.cancel();
    }
  }
  signalAll('SIGKILL');
  const killWaitMs = opts.killWaitMs ?? 5_000;
  const killWait = deadline(opts.clock, killWaitMs);
  try {
    await waitGone(h, opts.clock, killWait.signal);
    while (!escapedGone()) await sleep(opts.clock, 20, killWait.signal);
  } catch {
    throw new StopError(`process ${h.pid} and its group were still there ${killWaitMs}ms after SIGKILL`, { pid: h.pid });
  } finally {
    killWait.cancel();
  }
  return true;
}

/** Kills what is left of a group whose leader exited by itself (a crashed service must not leave workers behind). */
export function killLeftovers(h: ProcessHandle): void {
  if (h.pgid !== undefined && send(-h.pgid, 0)) signalProcess(h, 'SIGKILL');
}

/** A signal that aborts after `ms` on the injected clock, or with `parent`; `cancel` releases the timer and listener. */
export function deadline(clock: Clock, ms: number, parent?: AbortSignal): { signal: AbortSignal; cancel: () => void } {
  const ac = new AbortController();
  const onParent = (): void => ac.abort(parent?.reason);
  const timer = clock.setTimer(() => ac.abort(new Error(`timed out after ${ms}ms`)), ms);
  if (parent?.aborted) onParent();
  else parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: ac.signal,
    cancel: () => {
      timer.cancel();
      parent?.removeEventListener('abort', onParent);
    },
  };
}
