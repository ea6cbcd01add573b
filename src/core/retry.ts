import { jitter, jitteredBackoffMs, type Random } from '../util/index.js';
import type { SyncOutcome } from './types.js';

/** The retry settings `requeueDelayMs` reads. */
export interface RetrySettings {
  readonly resyncIntervalMs: number;
  readonly resyncJitter: number;
  readonly transientRetryMs: number;
  readonly backoff: { readonly baseMs: number; readonly maxMs: number; readonly jitter: number };
}

/**
 * The one place that decides when a process runs again after a call (the kubelet's completeWork).
 * `errorCount` is the failures in a row including this one; `requeueAfterMs` is the syncer's override.
 */
export function requeueDelayMs(
  outcome: SyncOutcome,
  errorCount: number,
  requeueAfterMs: number | undefined,
  s: RetrySettings,
  random: Random,
): number {
  switch (outcome) {
    case 'transition': // a phase changed: run the next hook now (B2)
    case 'superseded': // we aborted the call ourselves: rerun with the newer state now (B5)
      return 0;
    case 'success':
      return requeueAfterMs ?? jitter(s.resyncIntervalMs, s.resyncJitter, random);
    case 'transient': // aborts and timeouts say nothing about the process: retry soon, do not grow
      return jitter(s.transientRetryMs, s.backoff.jitter, random);
    case 'error':
      return jitteredBackoffMs(errorCount, s.backoff, random);
  }
}
