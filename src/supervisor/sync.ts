import { readFile } from 'node:fs/promises';
import type { ProcessSpec } from '../config/index.js';
import type { SyncResult } from '../core/index.js';
import { AttachError } from './errors.js';
import { followSpools } from './output.js';
import { restoreFinished, unrecord } from './persist.js';
import { isLiveStat } from './proc.js';
import { reattachRun, startRun, stopRun } from './run-control.js';
import type { ProcessRuntime } from './runtime.js';

const DONE = Promise.resolve();

/**
 * The decisions of one `syncProcess` call, kubelet style: look at what runs, compare it with the
 * spec, act. Called by the supervisor only, one call per id at a time.
 */

/** An explicit stop: stop the run (an unmanaged process too: it was asked for) and stay Disabled. */
async function disable(rt: ProcessRuntime, spec: ProcessSpec, signal: AbortSignal): Promise<SyncResult> {
  // Whatever ended the last run, the next one starts only because someone starts it.
  rt.nextStartCause('requested');
  if (rt.running) await stopRun(rt, 'stopped on request', { graceMs: spec.stopGracePeriod, signal });
  await rt.disabledNow();
  return {};
}

/** Makes a managed process match `spec`; returns the engine's next-sync hint. */
export async function syncManaged(rt: ProcessRuntime, spec: ProcessSpec, hash: string, signal: AbortSignal): Promise<SyncResult> {
  let now = rt.deps.clock.now();
  rt.noteExit();
  if (rt.disabled) return disable(rt, spec, signal);
  if (rt.running) {
    const old = rt.spec ?? spec;
    if (rt.hash !== hash || rt.wanted === 'restart') {
      const why = rt.wanted === 'restart' ? 'restart requested' : 'spec changed';
      // Before the stop: a stop cut short by an abort is finished, and the start made, by a later sync.
      rt.nextStartCause('requested');
      await stopRun(rt, why, { graceMs: old.stopGracePeriod, signal });
      await rt.replaced(spec, hash, why);
      return startNow(rt, spec, why, signal);
    }
    const end = rt.endRequest;
    if (!end) return rt.resyncHint();
    await stopRun(rt, end.reason, { graceMs: spec.stopGracePeriod, kill: end.kill, signal });
    rt.followPolicy(end.reason);
  }
  rt.applySpec(spec, hash);
  rt.restartAnswered();
  if (rt.done) {
    await rt.persist(); // the finish, so a restarted procmgr does not run the job again
    return { terminal: true };
  }
  now = rt.deps.clock.now(); // a stop above took time
  const at = rt.startAllowedAt(now);
  if (at > now) {
    rt.heldBack();
    return { requeueAfterMs: at - now };
  }
  rt.startDue(now);
  return startNow(rt, spec, rt.hadRun ? 'restart' : 'create', signal);
}

async function startNow(rt: ProcessRuntime, spec: ProcessSpec, reason: string, signal: AbortSignal): Promise<SyncResult> {
  // A call the engine gave up on (or a process it finished) must not spawn anything any more.
  signal.throwIfAborted();
  if (rt.finished) return {};
  await startRun(rt, spec, reason);
  return rt.resyncHint();
}

async function readPid(spec: ProcessSpec): Promise<number> {
  if (spec.pid !== undefined) return spec.pid;
  const file = spec.pidFile ?? '';
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AttachError(`pidFile: cannot read ${file}: ${(err as Error).message}`, { cause: err, details: { pidFile: file } });
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid < 1) throw new AttachError(`pidFile: ${file} does not hold a pid (got ${JSON.stringify(text.trim().slice(0, 40))})`, { details: { pidFile: file } });
  return pid;
}

/** Attaches to (or keeps watching) an unmanaged process. It is never spawned and, here, never signalled. */
export async function syncUnmanaged(rt: ProcessRuntime, spec: ProcessSpec, hash: string, signal: AbortSignal): Promise<SyncResult> {
  if (rt.disabled) return disable(rt, spec, signal);
  rt.applySpec(spec, hash);
  const pid = await readPid(spec);
  if (rt.running && rt.handle?.pid === pid) return {};
  const { os, clock, adoptPollMs } = rt.deps;
  const stat = os.readStat(pid);
  if (!isLiveStat(stat)) {
    rt.notRunning(pid);
    throw new AttachError(`pid ${pid}${spec.pidFile ? ` (from ${spec.pidFile})` : ''} is not running`, { details: { pid } });
  }
  // The pid file points elsewhere now (the service was restarted by its own manager).
  if (rt.running) await rt.pidMoved(pid);
  rt.attached(os.adopt({ pid, startTimeTicks: stat.startTimeTicks, group: false, startedAt: clock.now(), pollMs: adoptPollMs }, clock), spec);
  rt.deps.logger.info({ process: rt.id, pid }, 'attached');
  return {};
}

/**
 * Before the first sync of an id: a previous supervisor may have left a state file. Adopt its
 * process only when pid, start time and config hash all match; a live process of ours with another
 * config is stopped (its spec is stale); a reused pid is left alone. A job that finished with this
 * config stays done. Stale files are removed. A record that is there but unreadable throws (and
 * the sync is retried): a process may be running from before, so none is started meanwhile.
 */
export async function recover(rt: ProcessRuntime, spec: ProcessSpec, hash: string, signal: AbortSignal): Promise<void> {
  const { store, os, clock, emit, logger } = rt.deps;
  if (!store) return rt.recovered();
  const rec = await store.read(rt.id);
  if (!rec) return rt.recovered();
  rt.restoredCounts({ restarts: rec.restarts ?? 0, requestedRestarts: rec.requestedRestarts ?? 0, disabled: rec.disabled === true && spec.restart.policy === 'unless-stopped' });
  if (spec.kind === 'managed' && restoreFinished(rt, rec, hash)) return;
  if (rec.pid === undefined || rec.startTimeTicks === undefined || spec.kind !== 'managed') return rt.recovered();
  const stat = os.readStat(rec.pid);
  const reused = stat !== undefined && stat.startTimeTicks !== rec.startTimeTicks;
  // A run was recorded, so whatever starts next is a restart: after a stale config's run is
  // stopped, one asked for; after a run that ended while nobody watched, one that was not.
  rt.ranBefore();
  if (isLiveStat(stat, rec.startTimeTicks) && rec.configHash === hash && !rt.disabled) {
    rt.applySpec(spec, hash);
    reattachRun(rt, spec, { pid: rec.pid, startTimeTicks: rec.startTimeTicks, startedAt: rec.startedAt, group: stat.pgrp === rec.pid, runMark: rec.runMark });
    emit({ type: 'reattached', id: rt.id, pid: rec.pid });
    logger.info({ process: rt.id, pid: rec.pid }, 'reattached to the process a previous supervisor started');
    return;
  }
  if (isLiveStat(stat, rec.startTimeTicks)) {
    rt.nextStartCause('requested');
    emit({ type: 'reattachRefused', id: rt.id, pid: rec.pid, reason: 'configChanged' });
    logger.warn({ process: rt.id, pid: rec.pid }, 'found our process from before a restart with another config: stopping it');
    const old = os.adopt({ pid: rec.pid, startTimeTicks: rec.startTimeTicks, group: stat.pgrp === rec.pid, startedAt: clock.now(), pollMs: rt.deps.adoptPollMs, runMark: rec.runMark }, clock);
    try {
      // Still recovering until it is gone: a failed or aborted stop is retried by the next sync.
      await os.stop(old, { signal: spec.stopSignal, tree: spec.killMode === 'tree', graceMs: spec.stopGracePeriod, clock, abort: signal });
    } finally {
      old.dispose();
    }
  } else {
    const reason = reused ? 'pidReused' : 'gone';
    rt.nextStartCause('unexpected');
    emit({ type: 'reattachRefused', id: rt.id, pid: rec.pid, reason });
    logger.info({ process: rt.id, pid: rec.pid, reason }, 'not reattaching: the recorded process is gone');
    // What it wrote after the last procmgr stopped reading (often why it died) is kept for `logs`.
    rt.applySpec(spec, hash);
    if (rt.logs) followSpools(store, rt.id, { ended: DONE, logs: rt.logs, resume: true }, rt.deps);
    // `never` is never run twice (nor is a Never pod by the kubelet), even when its end went unseen.
    const unseen = { pid: rec.pid, code: null, signal: null, at: clock.now(), reason: 'ended while procmgr was down (exit status unknown)' };
    if (reason === 'gone' && spec.restart.policy === 'never' && restoreFinished(rt, { ...rec, finished: unseen }, hash)) {
      await rt.persist();
      return;
    }
  }
  await unrecord(rt);
  rt.recovered();
}

/** Stops a process for good (engine's Terminating). Unmanaged processes are only detached. */
export async function terminate(rt: ProcessRuntime, graceMs: number, signal: AbortSignal): Promise<void> {
  if (rt.running && rt.spec?.kind === 'managed') await stopRun(rt, 'terminating', { graceMs, signal });
  else if (rt.spec?.kind === 'managed') rt.noteExit();
  await rt.terminated();
  // An explicit stop is remembered (unless-stopped across restarts), and so is a finished job (not
  // run again for the same spec); anything else is forgotten. Neither throws: a stop is not held up.
  if (rt.disabled || rt.done) await rt.persist();
  else await unrecord(rt);
}

/**
 * The spec changed kind. An unmanaged process was never ours to signal: it is only detached.
 * A managed one is ours: it is stopped, so nothing runs untracked.
 */
export async function switchKind(rt: ProcessRuntime, signal: AbortSignal): Promise<void> {
  rt.nextStartCause('requested'); // another kind is another spec
  if (rt.running && rt.spec?.kind === 'managed') await stopRun(rt, 'kind changed', { graceMs: rt.spec.stopGracePeriod, signal });
  await rt.kindSwitched();
}
