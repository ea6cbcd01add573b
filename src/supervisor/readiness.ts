import type { Phase } from '../core/index.js';
import type { RuntimeStatus } from './status.js';

/**
 * One process as the API, the CLI and the ProcessSet status show it: the engine's phase next to
 * the supervisor's runtime status. Built by the daemon; here, below api/ and k8s/, because both
 * judge readiness from it.
 */
export interface ProcessInfo extends RuntimeStatus {
  readonly phase: Phase;
  /** ms since the current run started (undefined when not running). */
  readonly uptimeMs: number | undefined;
  /** The spec has a readiness probe (so `ready` waits for it to pass). */
  readonly readinessProbe: boolean;
  /** No longer in the desired set: stopping, then forgotten (so readiness does not wait for it). */
  readonly removed?: true;
  /** Not started yet: the dependencies it still waits for (so `/readyz` waits for it too). */
  readonly waitingFor?: readonly string[];
}

/** What `/readyz` answers. */
export interface Readiness {
  readonly ready: boolean;
  /** Ids that hold readiness back, in the backend's (id) order. */
  readonly notReady: readonly string[];
  /**
   * Set when procmgr itself is not ready whatever the processes say: shutting down, failed, or
   * (the sidecar) its desired set not read yet.
   */
  readonly reason?: string;
}

/**
 * The readiness rule, pure so it is tested on its own; `/readyz` and the ProcessSet's `Ready`
 * condition both use it, so a pod and its ProcessSet never disagree. As the kubelet's container
 * readiness: a process counts as ready while it runs (state `Running`, past its startup probe) and
 * its readiness probe passes, or it has none. Exempt, because nothing is meant to run: a process
 * stopped on request (`Disabled`), one being removed from the set, and a job that is done and
 * succeeded (ended for good under its restart policy without failing). Everything else holds
 * readiness back: not started yet or waiting for its dependencies, starting, in `Backoff`,
 * `Stopped` on its own, or `Failed` (a job that failed too, as a failed Never pod is not ready).
 * `gate` is a reason procmgr is not ready at all (undefined: none).
 */
export function readinessOf(processes: readonly ProcessInfo[], engineState: string = 'running', gate?: string): Readiness {
  // A pod that is shutting down must leave its Service's endpoints: not ready from the first signal.
  if (engineState !== 'running') return { ready: false, notReady: [], reason: `procmgr is ${engineState}` };
  const notReady = processes.filter((p) => !p.ready && !exempt(p)).map((p) => p.id);
  if (gate !== undefined) return { ready: false, notReady, reason: gate };
  return { ready: notReady.length === 0, notReady };
}

function exempt(p: ProcessInfo): boolean {
  if ((p.waitingFor?.length ?? 0) > 0) return false;
  if (p.state === 'Disabled' || p.removed === true) return true;
  return finished(p) && p.state === 'Stopped' && p.lastExit?.code === 0;
}

/** Ended for good: the engine's Terminating and later are reached only by a removal, a shutdown or a done job. */
function finished(p: ProcessInfo): boolean {
  return p.phase === 'Terminating' || p.phase === 'Terminated' || p.phase === 'Finished';
}
