import type { Clock, Logger, Random } from '../util/index.js';

/**
 * Lifecycle phases, forward only. Derived from recorded timestamps (see phase.ts), never set.
 * - `Starting`: no `syncProcess` has succeeded yet.
 * - `Syncing`: at least one `syncProcess` succeeded; the process is being kept as configured.
 * - `Terminating`: termination was requested; `syncTerminating` runs until it succeeds.
 * - `Terminated`: `syncTerminating` succeeded; `syncTerminated` (cleanup) runs until it succeeds.
 * - `Finished`: cleanup done; no hook runs again. The id may be created anew once removed.
 */
export type Phase = 'Starting' | 'Syncing' | 'Terminating' | 'Terminated' | 'Finished';

/** All phases in their order. */
export const PHASES: readonly Phase[] = ['Starting', 'Syncing', 'Terminating', 'Terminated', 'Finished'];

/** What a caller wants done to one process. */
export type UpdateType = 'create' | 'update' | 'sync' | 'terminate';

/** All update types, for validation. */
export const UPDATE_TYPES: readonly UpdateType[] = ['create', 'update', 'sync', 'terminate'];

/** Options of a termination request. */
export interface TerminateOptions {
  /** Grace period for `syncTerminating`; only ever decreases; clamped to `minGracePeriodMs`. */
  readonly gracePeriodMs?: number;
  /** Marks the termination as an eviction (passed to the syncer; sticky once set). */
  readonly evict?: boolean;
}

/** Options of `ProcessManager.terminate`: the termination's, plus how long the caller waits. */
export interface TerminateWaitOptions extends TerminateOptions {
  /**
   * Stops waiting: the promise rejects with `signal.reason`, and the termination goes on (a
   * `syncTerminating` that keeps failing is retried until it succeeds or shutdown force-stops it).
   */
  readonly signal?: AbortSignal;
}

/** One update for `ProcessManager.updateProcess`. */
export interface ProcessUpdate<C> {
  readonly id: string;
  readonly type: UpdateType;
  /** New desired config. Required to create an id; omitted means "keep the last one" (sticky). */
  readonly config?: C;
  readonly terminate?: TerminateOptions;
}

/** The hook a call went to. */
export type Hook = 'syncProcess' | 'syncTerminating' | 'syncTerminated';

/** What every syncer call receives. */
export interface SyncContext<C> {
  readonly id: string;
  /** Aborted when the call is superseded (termination, shorter grace), times out, or shutdown forces. */
  readonly signal: AbortSignal;
  /** The update type that led to this call (`sync` for resyncs and retries). */
  readonly updateType: UpdateType;
  /** The last config given for this id. */
  readonly config: C;
  /** How many calls of this hook failed in a row before this one (0 on a first try). */
  readonly attempt: number;
}

/** Extra context of `syncTerminating`. */
export interface TerminatingContext<C> extends SyncContext<C> {
  /** The effective grace period: the smallest requested, never below the floor. */
  readonly gracePeriodMs: number;
  readonly evict: boolean;
}

/** What `syncProcess` may return. `undefined` means `{}`. */
export interface SyncResult {
  /** The process reached a terminal state: move to Terminating at once, never resync it. */
  readonly terminal?: boolean;
  /** Override the next resync delay (ms, ≥ 0). */
  readonly requeueAfterMs?: number;
}

/**
 * The port the engine drives. The engine never touches a runtime itself; it only calls these,
 * at most one call per id at a time, and each call gets an AbortSignal it should honour.
 */
export interface ProcessSyncer<C> {
  /** Make the process match `ctx.config`. Called on create/update and periodically to resync. */
  syncProcess(ctx: SyncContext<C>): Promise<SyncResult | undefined | void>;
  /** Stop the process within `ctx.gracePeriodMs`. Retried until it succeeds. */
  syncTerminating(ctx: TerminatingContext<C>): Promise<void>;
  /** Release what is left (files, handles). Retried until it succeeds. */
  syncTerminated(ctx: SyncContext<C>): Promise<void>;
  /**
   * Optional: the id was removed (Finished and dropped, so it may be created again); drop what
   * is still kept for it, such as its final status. Synchronous; a throw is logged and ignored.
   */
  forget?(id: string): void;
}

/** A read-only snapshot of one process. */
export interface ProcessStatus<C> {
  readonly id: string;
  readonly phase: Phase;
  readonly config: C | undefined;
  /** Syncing and the last call did not fail. */
  readonly healthy: boolean;
  /** The hook in flight, if any. */
  readonly inFlight: Hook | undefined;
  readonly createdAt: number;
  readonly startedAt: number | undefined;
  readonly syncedAt: number | undefined;
  readonly terminatingAt: number | undefined;
  readonly terminatedAt: number | undefined;
  readonly finishedAt: number | undefined;
  readonly lastSyncAt: number | undefined;
  readonly nextSyncAt: number | undefined;
  readonly gracePeriodMs: number | undefined;
  /** Errors in a row (reset by a success): what the backoff grows with. Timeouts and aborts retry without counting here. */
  readonly errorCount: number;
  /** Failures of any kind in a row, errors, timeouts and aborts alike (reset by a success); `healthy` is false while it is above 0. */
  readonly failureCount: number;
  readonly totalErrors: number;
  readonly syncCount: number;
  readonly lastError: unknown;
}

/** Manager-wide health (for /healthz and metrics). */
export interface HealthReport {
  /** Running, not shutting down, and no process failing. */
  readonly healthy: boolean;
  readonly state: ManagerState;
  readonly total: number;
  readonly byPhase: Readonly<Record<Phase, number>>;
  /** Processes whose last call failed. */
  readonly unhealthy: number;
  readonly inFlight: number;
  /** Ids waiting in the work queue for a resync or retry. */
  readonly queueDepth: number;
}

/** `running` → `shuttingDown` → `shutDown`; any → `failed` on an internal bug. */
export type ManagerState = 'running' | 'shuttingDown' | 'shutDown' | 'failed';

/** How a finished call was judged; drives the requeue delay. */
export type SyncOutcome = 'success' | 'transition' | 'error' | 'transient' | 'superseded';

/** Every observable thing the manager does, for logs, metrics and tests. */
export type ManagerEvent =
  | { readonly type: 'phase'; readonly id: string; readonly from: Phase | undefined; readonly to: Phase; readonly at: number }
  | {
      readonly type: 'sync';
      readonly id: string;
      readonly hook: Hook;
      readonly outcome: SyncOutcome;
      readonly durationMs: number;
      readonly error?: unknown;
    }
  | { readonly type: 'requeue'; readonly id: string; readonly delayMs: number; readonly reason: SyncOutcome }
  | { readonly type: 'ignored'; readonly id: string; readonly reason: string }
  | { readonly type: 'removed'; readonly id: string }
  | { readonly type: 'failed'; readonly error: unknown };

/** Options of `new ProcessManager`. Every field but `syncer` has a default. */
export interface ProcessManagerOptions<C> {
  readonly syncer: ProcessSyncer<C>;
  /** Resync period after a successful sync. Default 30 000 ms. */
  readonly resyncIntervalMs?: number;
  /** Jitter factor for resyncs (±factor/2). Default 0.5. */
  readonly resyncJitter?: number;
  /** Error backoff: `baseMs·2^(n-1)` capped at `maxMs`, jittered. Defaults 1 000 / 60 000 / 0.5. */
  readonly backoff?: { readonly baseMs?: number; readonly maxMs?: number; readonly jitter?: number };
  /** Retry delay for transient errors (aborts, timeouts); does not grow. Default 1 000 ms. */
  readonly transientRetryMs?: number;
  /** Which errors are transient. Default: AbortError/TimeoutError names, ABORT_ERR/ETIMEDOUT/SYNC_TIMEOUT codes. */
  readonly isTransient?: (err: unknown) => boolean;
  /** Grace period when neither the request nor `gracePeriodFor` gives one. Default 30 000 ms. */
  readonly defaultGracePeriodMs?: number;
  /** Floor for every grace period. Default 1 000 ms (the kubelet's one-second minimum). */
  readonly minGracePeriodMs?: number;
  /** Reads a config's own grace period. Default: none. */
  readonly gracePeriodFor?: (config: C) => number | undefined;
  /** Deadline of `syncProcess` and `syncTerminated` calls. Default 120 000 ms. */
  readonly callTimeoutMs?: number;
  /** `syncTerminating` may run for its grace period plus this. Default 10 000 ms. */
  readonly terminatingSlackMs?: number;
  /** How long an aborted call may take to settle before it is abandoned. Default 5 000 ms. */
  readonly abortGraceMs?: number;
  /** Most ids tracked at once; more is `QueueFullError`. Default 1 000 000. */
  readonly maxProcesses?: number;
  /**
   * Most Finished records kept (for `getStatus`, `isFinished`) until `syncKnownProcesses` removes
   * them; beyond this the one that finished first is removed, as `syncKnownProcesses` would (not one
   * with a restart requested). `Infinity`: none is removed but by `syncKnownProcesses`. Default 10 000.
   */
  readonly maxFinished?: number;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  /** Called synchronously for every event; must not throw (a throw is logged and ignored). */
  readonly onEvent?: (event: ManagerEvent) => void;
}

/** Options of `shutdown`. Without either, shutdown waits as long as the grace periods take. */
export interface ShutdownOptions {
  /** Abort: force-stop what is left. */
  readonly signal?: AbortSignal;
  /** Force-stop what is left after this many ms. */
  readonly deadlineMs?: number;
}

/** What a completed shutdown reports. */
export interface ShutdownResult {
  /** Ids that went through their terminating and terminated hooks during shutdown. */
  readonly terminated: readonly string[];
}
