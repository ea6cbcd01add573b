import { isFailure, restartDelayMs, shouldRestart, type RunEnd } from './restart-policy.js';
import type { ProcessRuntime } from './runtime.js';

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
  if (spec.kind === 'unmanaged' || !shouldRestart(spec.restart.policy, end)) {
    rt.done = spec.kind === 'managed';
    rt.setState(failed && spec.kind === 'managed' ? 'Failed' : 'Stopped', how);
    return;
  }
  // A quick exit is a crash even with code 0: a service that keeps exiting is in a loop either way.
  if (failed || h.exit.at - h.startedAt < spec.restart.resetAfter) {
    rt.failures++;
    if (rt.breaker?.failure(now)) rt.emitBreaker(now);
  }
  const delayMs = restartDelayMs(spec.restart, rt.failures);
  rt.nextStartAt = Math.max(now + delayMs, rt.breaker?.allowedAt(now) ?? now);
  const waitMs = rt.nextStartAt - now;
  if (waitMs > 0) {
    rt.setState('Backoff', `${how}; restarting in ${waitMs}ms`);
    rt.deps.emit({ type: 'backoff', id: rt.id, delayMs: waitMs, failures: rt.failures });
  } else rt.setState('Stopped', `${how}; restarting now`);
}
