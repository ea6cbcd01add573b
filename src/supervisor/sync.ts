import { readFile } from 'node:fs/promises';
import type { ProcessSpec } from '../config/index.js';
import type { SyncResult } from '../core/index.js';
import { applyPolicy, emitBreaker, runningResult } from './after-exit.js';
import { AttachError } from './errors.js';
import { adoptProcess } from './handle.js';
import { followSpools } from './output.js';
import { restoreFinished, unrecord } from './persist.js';
import { isLiveStat, readStat } from './proc.js';
import type { ProcessRuntime } from './runtime.js';
import { stopProcess } from './signals.js';

const DONE = Promise.resolve();

/**
 * The decisions of one `syncProcess` call, kubelet style: look at what runs, compare it with the
 * spec, act. Called by the supervisor only, one call per id at a time.
 */

/** An explicit stop: stop the run (an unmanaged process too: it was asked for) and stay Disabled. */
async function disable(rt: ProcessRuntime, spec: ProcessSpec, signal: AbortSignal): Promise<SyncResult> {
  // Whatever ended the last run, the next one starts only because someone starts it.
  rt.restartCause = 'requested';
  if (rt.running) await rt.stopRun('stopped on request', { graceMs: spec.stopGracePeriod, signal });
  rt.handle = undefined;
  rt.setState('Disabled', 'stopped on request');
  return {};
}

/** Makes a managed process match `spec`; returns the engine's next-sync hint. */
export async function syncManaged(rt: ProcessRuntime, spec: ProcessSpec, hash: string, signal: AbortSignal): Promise<SyncResult> {
  let now = rt.deps.clock.now();
  rt.noteExit();
  if (rt.disabled) return disable(rt, spec, signal);
  if (rt.running) {
    const old = rt.spec ?? spec;
    if (rt.hash !== hash || rt.restartRequested) {
      const why = rt.restartRequested ? 'restart requested' : 'spec changed';
      // Before the stop: a stop cut short by an abort is finished, and the start made, by a later sync.
      rt.restartCause = 'requested';
      await rt.stopRun(why, { graceMs: old.stopGracePeriod, signal });
      rt.restartRequested = false;
      rt.handle = undefined;
      rt.failures = 0;
      rt.nextStartAt = undefined;
      rt.adopt(spec, hash);
      rt.setState('Stopped', why);
      return startNow(rt, spec, why, signal);
    }
    if (rt.endRequest) {
      const { reason, kill } = rt.endRequest;
      await rt.stopRun(reason, { graceMs: spec.stopGracePeriod, kill, signal });
      applyPolicy(rt, reason);
    } else return runningResult(rt);
  }
  rt.adopt(spec, hash);
  rt.restartRequested = false;
  if (rt.done) {
    await rt.persist(); // the finish, so a restarted procmgr does not run the job again
    return { terminal: true };
  }
  now = rt.deps.clock.now(); // a stop above took time
  const at = Math.max(rt.nextStartAt ?? now, rt.breaker?.allowedAt(now) ?? now);
  if (at > now) {
    if (rt.sm.state !== 'Backoff') rt.setState('Backoff', 'waiting for the circuit breaker');
    return { requeueAfterMs: at - now };
  }
  if (rt.breaker?.state(now) === 'halfOpen') emitBreaker(rt, now);
  return startNow(rt, spec, rt.hadRun ? 'restart' : 'create', signal);
}

async function startNow(rt: ProcessRuntime, spec: ProcessSpec, reason: string, signal: AbortSignal): Promise<SyncResult> {
  // A call the engine gave up on (or a process it finished) must not spawn anything any more.
  signal.throwIfAborted();
  if (rt.finished) return {};
  await rt.start(spec, reason);
  return runningResult(rt);
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
  rt.adopt(spec, hash);
  const pid = await readPid(spec);
  if (rt.running && rt.handle?.pid === pid) return {};
  const stat = readStat(pid);
  if (!isLiveStat(stat)) {
    if (rt.sm.state !== 'Stopped' && rt.sm.state !== 'Failed') rt.setState('Stopped', `pid ${pid} is not running`);
    throw new AttachError(`pid ${pid}${spec.pidFile ? ` (from ${spec.pidFile})` : ''} is not running`, { details: { pid } });
  }
  if (rt.running) {
    // The pid file points elsewhere now (the service was restarted by its own manager).
    rt.handle?.dispose();
    await rt.endWatchers();
    rt.setState('Stopped', `pid changed to ${pid}`);
  }
  rt.begin(adoptProcess({ pid, startTimeTicks: stat.startTimeTicks, group: false, startedAt: rt.deps.clock.now(), pollMs: rt.deps.adoptPollMs }, rt.deps.clock), spec);
  rt.lastError = undefined;
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
  const store = rt.deps.store;
  if (!store) {
    rt.recovered = true;
    return;
  }
  const rec = await store.read(rt.id);
  rt.recovered = true; // from here on, anything that fails is retried as a normal sync
  if (!rec) return;
  rt.restarts = rec.restarts ?? 0;
  rt.requestedRestarts = rec.requestedRestarts ?? 0;
  if (rec.disabled && spec.restart.policy === 'unless-stopped') rt.disabled = true;
  if (spec.kind === 'managed' && restoreFinished(rt, rec, hash)) return;
  if (rec.pid === undefined || rec.startTimeTicks === undefined || spec.kind !== 'managed') return;
  const stat = readStat(rec.pid);
  const reused = stat !== undefined && stat.startTimeTicks !== rec.startTimeTicks;
  const emit = rt.deps.emit;
  // A run was recorded, so whatever starts next is a restart: after a stale config's run is
  // stopped, one asked for; after a run that ended while nobody watched, one that was not.
  rt.hadRun = true;
  if (isLiveStat(stat, rec.startTimeTicks) && rec.configHash === hash && !rt.disabled) {
    rt.adopt(spec, hash);
    rt.reattach(spec, { pid: rec.pid, startTimeTicks: rec.startTimeTicks, startedAt: rec.startedAt, group: stat.pgrp === rec.pid, runMark: rec.runMark });
    emit({ type: 'reattached', id: rt.id, pid: rec.pid });
    rt.deps.logger.info({ process: rt.id, pid: rec.pid }, 'reattached to the process a previous supervisor started');
    return;
  }
  if (isLiveStat(stat, rec.startTimeTicks)) {
    rt.restartCause = 'requested';
    emit({ type: 'reattachRefused', id: rt.id, pid: rec.pid, reason: 'configChanged' });
    rt.deps.logger.warn({ process: rt.id, pid: rec.pid }, 'found our process from before a restart with another config: stopping it');
    const old = adoptProcess(
      { pid: rec.pid, startTimeTicks: rec.startTimeTicks, group: stat.pgrp === rec.pid, startedAt: rt.deps.clock.now(), pollMs: rt.deps.adoptPollMs, runMark: rec.runMark },
      rt.deps.clock,
    );
    try {
      // Not recovered until it is gone: a failed or aborted stop is retried by the next sync.
      rt.recovered = false;
      await stopProcess(old, { signal: spec.stopSignal, tree: spec.killMode === 'tree', graceMs: spec.stopGracePeriod, clock: rt.deps.clock, abort: signal });
      rt.recovered = true;
    } finally {
      old.dispose();
    }
  } else {
    const reason = reused ? 'pidReused' : 'gone';
    rt.restartCause = 'unexpected';
    emit({ type: 'reattachRefused', id: rt.id, pid: rec.pid, reason });
    rt.deps.logger.info({ process: rt.id, pid: rec.pid, reason }, 'not reattaching: the recorded process is gone');
    // What it wrote after the last procmgr stopped reading (often why it died) is kept for `logs`.
    rt.adopt(spec, hash);
    if (rt.logs) followSpools(store, rt.id, { ended: DONE, logs: rt.logs, resume: true }, rt.deps);
    // `never` is never run twice (nor is a Never pod by the kubelet), even when its end went unseen.
    const unseen = { pid: rec.pid, code: null, signal: null, at: rt.deps.clock.now(), reason: 'ended while procmgr was down (exit status unknown)' };
    if (reason === 'gone' && spec.restart.policy === 'never' && restoreFinished(rt, { ...rec, finished: unseen }, hash)) {
      await rt.persist();
      return;
    }
  }
  await unrecord(rt);
}

/** Stops a process for good (engine's Terminating). Unmanaged processes are only detached. */
export async function terminate(rt: ProcessRuntime, graceMs: number, signal: AbortSignal): Promise<void> {
  if (rt.running && rt.spec?.kind === 'managed') await rt.stopRun('terminating', { graceMs, signal });
  else if (rt.spec?.kind === 'managed') rt.noteExit();
  rt.handle?.dispose();
  await rt.endWatchers();
  if (rt.sm.state !== 'Disabled' && rt.sm.state !== 'Failed') rt.setState('Stopped', 'terminated');
  rt.handle = undefined;
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
  rt.restartCause = 'requested'; // another kind is another spec
  if (rt.running && rt.spec?.kind === 'managed') await rt.stopRun('kind changed', { graceMs: rt.spec.stopGracePeriod, signal });
  rt.handle?.dispose();
  await rt.endWatchers();
  rt.handle = undefined;
  rt.done = false;
  if (rt.sm.state !== 'Stopped' && rt.sm.state !== 'Disabled') rt.setState('Stopped', 'kind changed');
}
