/**
 * The shapes shared by the probe checks and the per-process `ProbeSet`. A check is a plain
 * function so tests can script one and the supervisor never sees which kind it runs.
 */

/** The outcome of one check. `message` is short and specific enough to show in `status`. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly message: string;
}

/**
 * One check of one probe. Called by `ProbeSet` once per interval with a signal that aborts on
 * timeout or stop; a check must honour it promptly and must not leave a socket or process behind.
 * A target that cannot be reached is `{ ok: false }`, not a rejection.
 */
export type ProbeCheck = (signal: AbortSignal) => Promise<ProbeResult>;

/** What a check needs to know about the probed process: exec probes run with its env and cwd. */
export interface ProbeTarget {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string | undefined;
}

/** The three probes a process may have (kubelet's). */
export type ProbeName = 'startup' | 'liveness' | 'readiness';

/**
 * Sent to `ProbeSet`'s `onChange` when a probe flips. The supervisor restarts the process on a
 * `failed` startup or liveness event; readiness events only change what `status` reports.
 */
export interface ProbeEvent {
  readonly id: string;
  readonly probe: ProbeName;
  readonly result: 'passed' | 'failed';
  readonly message: string;
}

/** Every finished check (not only flips), for metrics: which probe, its result and how long it took. */
export interface ProbeCheckResult {
  readonly probe: ProbeName;
  readonly ok: boolean;
  readonly durationMs: number;
}

/** One probe in `ProbeSetStatus`: the last check and the current run of equal results. */
export interface ProbeStatus {
  /** The last check's result; undefined before the first check. */
  readonly ok: boolean | undefined;
  readonly message: string;
  /** When the last check finished (clock ms); undefined before the first check. */
  readonly at: number | undefined;
  /** Consecutive successes (0 after a failure). */
  readonly successes: number;
  /** Consecutive failures (0 after a success). */
  readonly failures: number;
}

/** A snapshot of a `ProbeSet`, read by the supervisor for its process status and the API. */
export interface ProbeSetStatus {
  /** The startup probe has passed (true from the start when there is none). */
  readonly started: boolean;
  /** The liveness probe is passing (true when there is none). */
  readonly live: boolean;
  /** The readiness probe is passing, or, without one, the process has started. */
  readonly ready: boolean;
  readonly probes: Partial<Record<ProbeName, ProbeStatus>>;
}
