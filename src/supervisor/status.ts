import type { ProcessSpec } from '../config/index.js';
import type { LogStats } from './logs/index.js';
import type { ProbeSetStatus } from './probes/index.js';
import type { ResourceUsage } from './resources.js';
import type { BreakerStatus } from './restart-policy.js';
import type { LastExit, ProcessRuntime } from './runtime.js';
import type { RuntimeState, Transition } from './state-machine.js';

/** A read-only snapshot of one supervised process, for `status`, the API and metrics. */
export interface RuntimeStatus {
  readonly id: string;
  readonly kind: ProcessSpec['kind'] | undefined;
  readonly state: RuntimeState;
  /** When `state` was entered. */
  readonly since: number;
  readonly pid: number | undefined;
  readonly startedAt: number | undefined;
  /** Reattached to a process a previous supervisor started (or attached, when unmanaged). */
  readonly adopted: boolean;
  /**
   * Runs started again after the previous one ended without being asked (exit, crash, liveness
   * probe, limit breach, found dead at reattach), like the kubelet's restartCount: what to alert on.
   */
  readonly restarts: number;
  /** Runs started again because someone asked: restart, a changed spec, stop then start. */
  readonly requestedRestarts: number;
  /** Quick exits in a row (drives the restart delay). */
  readonly failures: number;
  readonly nextStartAt: number | undefined;
  readonly lastExit: LastExit | undefined;
  /** The last error met driving it; a state file that could not be written takes precedence. */
  readonly lastError: string | undefined;
  readonly ready: boolean;
  readonly live: boolean;
  readonly probes: ProbeSetStatus | undefined;
  readonly usage: ResourceUsage | undefined;
  readonly breaker: BreakerStatus | undefined;
  readonly history: readonly Transition[];
  /** Output capture counters (lines, lines not forwarded to procmgr's log, cuts, file waits). */
  readonly logs?: LogStats | undefined;
}

/** Builds the snapshot; `ready` needs a running, started process whose readiness passes. */
export function statusOf(rt: ProcessRuntime, now: number): RuntimeStatus {
  const running = rt.running;
  const probes = running ? rt.probeStatus : undefined;
  return {
    id: rt.id,
    kind: rt.spec?.kind,
    state: rt.state,
    since: rt.since,
    pid: running ? rt.handle?.pid : undefined,
    startedAt: running ? rt.handle?.startedAt : undefined,
    adopted: running ? (rt.handle?.adopted ?? false) : false,
    restarts: rt.restarts,
    requestedRestarts: rt.requestedRestarts,
    failures: rt.failures,
    nextStartAt: rt.state === 'Backoff' ? rt.nextStartAt : undefined,
    lastExit: rt.lastExit,
    // A state file that could not be written is a standing problem (a restart would run it twice).
    lastError: (rt.stateError ?? rt.lastError)?.message,
    ready: running && rt.state === 'Running' && (probes?.ready ?? true),
    live: running && (probes?.live ?? true),
    probes,
    usage: running ? rt.usage : undefined,
    breaker: rt.breakerStatus(now),
    history: [...rt.history],
    logs: rt.logs?.stats(),
  };
}
