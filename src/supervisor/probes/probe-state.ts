import type { ProbeName, ProbeResult, ProbeStatus } from './types.js';

/**
 * Where one probe stands (the kubelet's result cache, per probe):
 * - `pending`: not decided yet; only a startup probe starts here.
 * - `passed`: `successThreshold` consecutive successes (liveness starts here).
 * - `failed`: `failureThreshold` consecutive failures (readiness starts here: not ready until it passes).
 */
export type ProbeVerdict = 'pending' | 'passed' | 'failed';

/** Each probe's verdict before its first check, as the kubelet starts them. */
export const INITIAL_VERDICT: Readonly<Record<ProbeName, ProbeVerdict>> = {
  startup: 'pending',
  liveness: 'passed',
  readiness: 'failed',
};

/** A probe's status before its first check. */
export const INITIAL_STATUS: ProbeStatus = { ok: undefined, message: 'not checked yet', at: undefined, successes: 0, failures: 0 };

/** The two thresholds of a probe spec. */
export interface Thresholds {
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

/** What one result does to a probe: its new status, and the verdict it flips to, if it flips. */
export interface Recorded {
  readonly status: ProbeStatus;
  readonly flip: 'passed' | 'failed' | undefined;
}

/**
 * Counts one result into a probe's consecutive run and decides whether the verdict flips.
 * Pure; `ProbeSet` calls it for every check that finished before stop.
 */
export function recordResult(verdict: ProbeVerdict, status: ProbeStatus, result: ProbeResult, thresholds: Thresholds, at: number): Recorded {
  const successes = result.ok ? status.successes + 1 : 0;
  const failures = result.ok ? 0 : status.failures + 1;
  const reached = result.ok
    ? successes >= thresholds.successThreshold
      ? 'passed'
      : undefined
    : failures >= thresholds.failureThreshold
      ? 'failed'
      : undefined;
  return {
    status: { ok: result.ok, message: result.message, at, successes, failures },
    flip: reached !== undefined && reached !== verdict ? reached : undefined,
  };
}
