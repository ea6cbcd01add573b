import type { ProcessSpec } from '../config/index.js';
import { followSpools } from './output.js';
import type { ProcessRuntime } from './runtime.js';

/*
 * The OS actions on a runtime's runs, through its port: start, stop, reattach. Each records what
 * happened on the runtime through its intent methods. Sync and the supervisor call them, one sync
 * call per id at a time (the supervisor's `killAll` excepted: nobody else acts by then).
 */

/** Spawns a new run of a managed spec. A bad spec or a spawn failure leaves the runtime in Failed and throws. */
export async function startRun(rt: ProcessRuntime, spec: ProcessSpec, reason: string): Promise<void> {
  const { deps } = rt;
  rt.starting(reason);
  let handle;
  try {
    const spawned = await deps.os.spawn(spec, deps);
    handle = spawned.handle;
    if (spawned.spooled && deps.store && rt.logs) followSpools(deps.store, rt.id, { ended: handle.exited, logs: rt.logs, resume: false }, deps);
    for (const name of ['stdout', 'stderr'] as const) {
      const stream = handle.child?.[name];
      if (stream) rt.logs?.attach(stream, name).catch((err: unknown) => deps.logger.warn({ process: rt.id, err }, 'log capture failed'));
    }
  } catch (err) {
    rt.startFailed(err as Error);
    throw err;
  }
  rt.started(handle, spec);
  if (handle.exit === undefined) await rt.persist();
  const counts = { restarts: rt.restarts, requestedRestarts: rt.requestedRestarts };
  deps.emit({ type: 'started', id: rt.id, pid: handle.pid, ...counts });
  deps.logger.info({ process: rt.id, pid: handle.pid, ...counts }, 'started');
}

/**
 * Ends the current run on purpose: stop signal → grace → SIGKILL, all through the port's `stop`.
 * Resolves once nothing of the run is left; the caller decides what the state becomes.
 */
export async function stopRun(rt: ProcessRuntime, reason: string, opts: { graceMs: number; kill?: boolean; signal?: AbortSignal }): Promise<void> {
  const spec = rt.spec;
  const stop = rt.stopBegan(reason);
  if (!stop || !spec) return;
  const { run, progress, watchersStopped } = stop;
  let killed: boolean;
  try {
    // On abort the runtime stays `stopping`: the exit that follows belongs to this stop, not to the policy.
    killed = await rt.deps.os.stop(run.handle, {
      signal: spec.stopSignal,
      tree: spec.killMode === 'tree',
      graceMs: opts.graceMs,
      clock: rt.deps.clock,
      kill: opts.kill ?? false,
      progress,
      ...(opts.signal ? { abort: opts.signal } : {}),
    });
  } finally {
    // The watchers went quiet at once (their in-flight checks are awaited here), so the signal need not wait for them.
    await watchersStopped;
  }
  rt.stopEnded(run, reason);
  if (killed) rt.deps.logger.warn({ process: rt.id, pid: run.handle.pid, graceMs: opts.graceMs }, 'did not stop within its grace period: killed');
}

/** Adopts a process a previous supervisor started (pid and start time verified by the caller). */
export function reattachRun(
  rt: ProcessRuntime,
  spec: ProcessSpec,
  rec: { pid: number; startTimeTicks: number; startedAt: number | undefined; group: boolean; runMark: string | undefined },
): void {
  const { deps } = rt;
  const handle = deps.os.adopt(
    { pid: rec.pid, startTimeTicks: rec.startTimeTicks, group: rec.group, startedAt: rec.startedAt ?? deps.clock.now(), pollMs: deps.adoptPollMs, runMark: rec.runMark },
    deps.clock,
  );
  if (deps.store && rt.logs) followSpools(deps.store, rt.id, { ended: handle.exited, logs: rt.logs, resume: true }, deps);
  rt.attached(handle, spec);
}
