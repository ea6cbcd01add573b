import type { SyncResult } from '../core/index.js';
import { isFailure, restartDelayMs, shouldRestart, type RunEnd } from './restart-policy.js';
import type { ProcessRuntime } from './runtime.js';

/*
 * The restart policy's bookkeeping on a runtime: what follows an exit, the credit of a healthy
 * run, the restart counters, and the breaker's events. The runtime records what happened; this decides what it means.
 */

/**
 * Why the next start is a restart. `unexpected`: the last run ended without anyone asking (it
 * exited, crashed, failed its liveness probe, broke a limit, or was found dead at reattach): what
 * `restarts` counts and alerts watch. `requested`: someone asked (restart, a changed spec, stop
 * then start, a rerun of a finished job): counted in `requestedRestarts`.
 */
export type RestartCause = 'unexpected' | 'requested';

/** Counts a start that follows a run under its cause, and clears the cause. The runtime's `start` only. */
export function countRestart(rt: ProcessRuntime): void {
  // Not asked for unless someone said so: a path that forgets to name its cause still shows up
  // where alerts look, rather than hiding a crash among deploys.
  if (rt.hadRun && rt.restartCause === 'requested') rt.requestedRestarts++;
  else if (rt.hadRun) rt.restarts++;
  rt.restartCause = undefined;
}

/**
 * Decides what follows an exit that procmgr did not ask for (or a probe/limit restart):
 * Backoff/Stopped with a restart time, or Stopped/Failed for good (`done`). The one place that
 * applies the restart policy.
 */
export function applyPolicy(rt: ProcessRuntime, reason: string | undefined): void {
  const h = rt.handle;
  const spec = rt.spec;
  if (!h?.exit || !spec) return;
  const now = rt.deps.clock.now();
  const end: RunEnd = { code: h.exit.code, signal: h.exit.signal, reason };
  const failed = isFailure(end);
  const how = reason ?? (h.exit.signal ? `killed by ${h.exit.signal}` : h.exit.code === null ? 'exited' : `exit code ${h.exit.code}`);
  // Nobody asked for this end (a probe or limit verdict is procmgr's, not an operator's).
  rt.restartCause = 'unexpected';
  if (spec.kind === 'unmanaged' || !shouldRestart(spec.restart.policy, end)) {
    rt.done = spec.kind === 'managed';
    rt.setState(failed && spec.kind === 'managed' ? 'Failed' : 'Stopped', how);
    return;
  }
  // A quick exit is a crash even with code 0: a service that keeps exiting is in a loop either way.
  if (failed || h.exit.at - h.startedAt < spec.restart.resetAfter) {
    rt.failures++;
    if (rt.breaker?.failure(now)) emitBreaker(rt, now);
  }
  const delayMs = restartDelayMs(spec.restart, rt.failures);
  rt.nextStartAt = Math.max(now + delayMs, rt.breaker?.allowedAt(now) ?? now);
  const waitMs = rt.nextStartAt - now;
  if (waitMs > 0) {
    rt.setState('Backoff', `${how}; restarting in ${waitMs}ms`);
    rt.deps.emit({ type: 'backoff', id: rt.id, delayMs: waitMs, failures: rt.failures });
  } else rt.setState('Stopped', `${how}; restarting now`);
}

/** The run has been healthy for `resetAfter`: the delay starts over and a half-open breaker closes. */
export function markHealthy(rt: ProcessRuntime, now: number): void {
  if (rt.healthyRun) return;
  rt.healthyRun = true;
  rt.failures = 0;
  if (rt.breaker?.success(now)) emitBreaker(rt, now);
}

/** Announces the breaker's state (after it changed). */
export function emitBreaker(rt: ProcessRuntime, now: number): void {
  const s = rt.breaker?.status(now);
  if (!s) return;
  rt.deps.emit({ type: 'breaker', id: rt.id, state: s.state, openUntil: s.openUntil });
  rt.deps.logger.warn({ process: rt.id, breaker: s.state, openUntil: s.openUntil }, `circuit breaker ${s.state}`);
}

/** The engine's resync result while a run is up: come back when it becomes healthy. */
export function runningResult(rt: ProcessRuntime): SyncResult {
  const h = rt.handle;
  if (!h || !rt.spec || rt.healthyRun) return {};
  const ranFor = rt.deps.clock.now() - h.startedAt;
  if (ranFor >= rt.spec.restart.resetAfter) {
    markHealthy(rt, rt.deps.clock.now());
    return {};
  }
  return { requeueAfterMs: rt.spec.restart.resetAfter - ranFor };
}
