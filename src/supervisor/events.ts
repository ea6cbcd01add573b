import type { BreakerState } from './restart-policy.js';
import type { RuntimeState } from './state-machine.js';

/** Everything the supervisor does that logs, metrics (#4) and Kubernetes Events (#5) may want. */
export type SupervisorEvent =
  | { readonly type: 'state'; readonly id: string; readonly from: RuntimeState; readonly to: RuntimeState; readonly reason: string; readonly at: number }
  | { readonly type: 'started'; readonly id: string; readonly pid: number; readonly restarts: number; readonly requestedRestarts: number }
  | {
      readonly type: 'exited';
      readonly id: string;
      readonly pid: number;
      readonly code: number | null;
      readonly signal: string | null;
      /** Why procmgr ended the run, when it did (probe, limit, stop, spec change). */
      readonly reason: string | undefined;
      readonly ranForMs: number;
    }
  | { readonly type: 'backoff'; readonly id: string; readonly delayMs: number; readonly failures: number }
  | { readonly type: 'breaker'; readonly id: string; readonly state: BreakerState; readonly openUntil: number | undefined }
  | { readonly type: 'probe'; readonly id: string; readonly probe: 'startup' | 'liveness' | 'readiness'; readonly result: 'passed' | 'failed'; readonly message: string }
  | { readonly type: 'probeCheck'; readonly id: string; readonly probe: 'startup' | 'liveness' | 'readiness'; readonly ok: boolean; readonly durationMs: number }
  | { readonly type: 'resource'; readonly id: string; readonly resource: string; readonly value: number; readonly limit: number; readonly action: string }
  | { readonly type: 'reattached'; readonly id: string; readonly pid: number }
  | { readonly type: 'reattachRefused'; readonly id: string; readonly pid: number; readonly reason: 'pidReused' | 'configChanged' | 'gone' | 'removed' }
  | { readonly type: 'spawnFailed'; readonly id: string; readonly error: Error };
