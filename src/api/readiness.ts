import type { ProcessInfo } from './backend.js';

/** What `/readyz` answers. */
export interface Readiness {
  readonly ready: boolean;
  /** Ids that hold readiness back, in the backend's (id) order. */
  readonly notReady: readonly string[];
  /** Set when procmgr itself is not serving (shutting down, failed): not ready whatever the processes say. */
  readonly reason?: string;
}

/**
 * The `/readyz` rule, pure so it is tested on its own: every process whose spec has a readiness
 * probe must be `ready`, except those stopped on request — `Disabled` (an explicit stop) or
 * being removed (engine phase Terminating and later). A process that is `Stopped`, `Failed` or in
 * `Backoff` on its own, or not started yet, holds readiness back; so does any process still waiting
 * for its dependencies (a crash-looping dependency must not look ready from outside).
 */
export function readinessOf(processes: readonly ProcessInfo[], engineState: string = 'running'): Readiness {
  // A pod that is shutting down must leave its Service's endpoints: not ready from the first signal.
  if (engineState !== 'running') return { ready: false, notReady: [], reason: `procmgr is ${engineState}` };
  const notReady = processes.filter((p) => (p.waitingFor?.length ?? 0) > 0 || (p.readinessProbe && !stoppedOnRequest(p) && !p.ready)).map((p) => p.id);
  return { ready: notReady.length === 0, notReady };
}

function stoppedOnRequest(p: ProcessInfo): boolean {
  return p.state === 'Disabled' || p.phase === 'Terminating' || p.phase === 'Terminated' || p.phase === 'Finished';
}
