import { isFailure } from './restart-policy.js';
import type { ProcessRuntime } from './runtime.js';
import type { ProcessRecordFile } from './state-store.js';

/*
 * What a runtime keeps in the state dir, and what a failed write means. A write or removal that
 * fails does not fail the process (it runs on, supervised): it is logged with the process id,
 * kept as the runtime's `stateError` (shown as the status's `lastError`) and retried by the next sync.
 */

/** The record of `rt` as it is now; `finished` only for a job its policy runs no more. */
function recordOf(rt: ProcessRuntime, hash: string): ProcessRecordFile {
  const h = rt.handle;
  const live = h?.exit === undefined;
  return {
    id: rt.id,
    pid: live ? h?.pid : undefined,
    startTimeTicks: live ? h?.startTimeTicks : undefined,
    configHash: hash,
    startedAt: h?.startedAt,
    restarts: rt.restarts,
    requestedRestarts: rt.requestedRestarts,
    disabled: rt.disabled,
    finished: rt.done ? rt.lastExit : undefined,
    kind: rt.spec?.kind,
    stopSignal: rt.spec?.stopSignal,
    stopGracePeriodMs: rt.spec?.stopGracePeriod,
    killMode: rt.spec?.killMode,
    runMark: live ? h?.runMark : undefined,
  };
}

async function settle(rt: ProcessRuntime, op: Promise<void>, consequence: string): Promise<void> {
  try {
    await op;
    if (rt.stateError) rt.deps.logger.info({ process: rt.id }, 'state file written again');
    rt.stateWritten(undefined);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    // Once per failure, not on every retry of the same one.
    if (rt.stateError?.message !== e.message) rt.deps.logger.error({ process: rt.id, err: e }, `${e.message}: ${consequence}`);
    rt.stateWritten(e);
  }
}

/** Writes `rt`'s record (no-op without a state dir or before a spec). Never throws. Runtime and sync only. */
export function persistRuntime(rt: ProcessRuntime): Promise<void> {
  const store = rt.deps.store;
  if (!store || rt.hash === undefined) return Promise.resolve();
  return settle(rt, store.write(recordOf(rt, rt.hash)), 'a restarted procmgr would not know this process and could run it a second time');
}

/** Removes `rt`'s record (none is fine). Never throws. Sync and supervisor only. */
export function unrecord(rt: ProcessRuntime): Promise<void> {
  const store = rt.deps.store;
  if (!store) return Promise.resolve();
  return settle(rt, store.remove(rt.id), 'a restarted procmgr may act on this stale record');
}

/**
 * Recover's case of a job that finished before procmgr restarted: with the same spec (config
 * hash), it is done (the kubelet does not run a completed `restartPolicy: Never` pod again), with
 * the last exit it had, so a `completed` dependency holds. Returns false when `rec` is no such finish.
 */
export function restoreFinished(rt: ProcessRuntime, rec: ProcessRecordFile, hash: string): boolean {
  const f = rec.finished;
  if (f === undefined || rec.configHash !== hash || rt.disabled) return false;
  const failed = isFailure({ code: f.code, signal: f.signal, reason: f.reason });
  rt.finishedBefore({ pid: f.pid, code: f.code, signal: f.signal, at: f.at, reason: f.reason }, failed ? 'Failed' : 'Stopped');
  rt.deps.logger.info({ process: rt.id, code: f.code, signal: f.signal }, 'finished before procmgr restarted, with this spec: not run again');
  return true;
}
