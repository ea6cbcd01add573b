import type { HealthReport } from '../core/index.js';
import type { LogLine, ProcessInfo } from '../supervisor/index.js';

export type { ProcessInfo };

/**
 * What the HTTP API needs from whoever owns the processes (the daemon implements it). The API
 * knows nothing of the manager, the supervisor or the config file: it parses HTTP, validates the
 * envelope and maps errors; meaning is the backend's.
 */
export interface ApiBackend {
  /** Every known process, sorted by id. */
  list(): ProcessInfo[];
  get(id: string): ProcessInfo | undefined;
  /**
   * Replaces the desired set with `processes` (the `processes` list of the config file, unvalidated).
   * Throws `ConfigError` (code INVALID_CONFIG) naming every bad path; nothing changes then.
   */
  apply(processes: unknown): Promise<ApplyResult>;
  /** Throw `NotFoundError` for an unknown id. */
  restart(id: string): Promise<void>;
  stop(id: string): Promise<void>;
  start(id: string): Promise<void>;
  logs(id: string, opts: { readonly tail?: number }): LogLine[];
  /**
   * Calls `fn` for every new line until the returned function is called; `onEnd` once no more
   * lines can come (the process finished or was removed), so a follow stream can end.
   */
  followLogs(id: string, fn: (line: LogLine) => void, onEnd?: () => void): () => void;
  /**
   * Why procmgr is not ready whatever its processes say (the sidecar before its set was read), or
   * undefined. `/readyz` asks on every request.
   */
  notReadyReason(): string | undefined;
  /** Liveness of procmgr itself (engine not failed, config source making progress). */
  health(): HealthInfo;
  /** The engine's work-queue depth and counts, for metrics. */
  engine(): HealthReport;
}

export interface ApplyResult {
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly removed: readonly string[];
  readonly unchanged: readonly string[];
}

export interface HealthInfo {
  readonly ok: boolean;
  /** Free-form details for `/healthz` (engine state, last reload, last error). */
  readonly details: Readonly<Record<string, unknown>>;
}
