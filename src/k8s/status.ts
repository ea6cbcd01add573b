import { readinessOf, type ProcessInfo } from '../supervisor/index.js';
import { canonicalJson, isoTime, realClock, silentLogger, sleep, type Clock, type Logger, type TimerHandle } from '../util/index.js';
import { apiErrorFields, type ProcessSetApi } from './api.js';

/** A status condition as Kubernetes writes them. */
export interface Condition {
  readonly type: 'Ready' | 'Degraded' | 'SpecInvalid';
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

/** What the sidecar knows when it writes status. */
export interface StatusInput {
  readonly processes: readonly ProcessInfo[];
  /** The generation whose spec runs; undefined while none has been applied. */
  readonly appliedGeneration: number | undefined;
  /** The newest generation, when it was rejected, and why; undefined when it runs. */
  readonly rejected: { readonly generation: number | undefined; readonly error: string } | undefined;
  readonly now: number;
}

/** The `Status` column: the one word a person needs first, the worst of them winning. */
export type StatusSummary = 'SpecInvalid' | 'Degraded' | 'NotReady' | 'Ready';

const iso = isoTime;

/**
 * The ProcessSet's status. `observedGeneration`, on the status and on `Ready` and `Degraded`, is
 * the generation that runs, never a rejected one, so `kubectl wait --for=condition=Ready` on a
 * new generation (and kstatus, which compares it with `metadata.generation`) does not pass on a
 * spec that was refused. `Ready` uses the rule of `/readyz` (pod and set agree); it is False
 * (reason `SpecInvalid`) while no generation runs at all. `SpecInvalid` carries the generation it
 * judged: True with the rejected one, False with the one that runs. `previous` keeps each
 * condition's lastTransitionTime while its status does not change.
 */
export function buildStatus(input: StatusInput, previous: readonly Condition[] = []): { status: Record<string, unknown>; conditions: Condition[] } {
  const { processes, appliedGeneration, rejected, now } = input;
  const readiness = readinessOf(processes);
  const troubled = processes.filter((p) => p.state === 'Failed' || p.state === 'Backoff' || p.breaker?.state === 'open').map((p) => p.id);
  const cond = (type: Condition['type'], on: boolean, reason: string, message: string, generation = appliedGeneration): Condition => {
    const status = on ? 'True' : 'False';
    const before = previous.find((c) => c.type === type);
    const since = before?.status === status ? before.lastTransitionTime : iso(now);
    return { type, status, reason, message, lastTransitionTime: since, ...(generation === undefined ? {} : { observedGeneration: generation }) };
  };
  const nothingRuns = appliedGeneration === undefined && rejected !== undefined;
  const ready = readiness.ready && !nothingRuns;
  const readyReason = nothingRuns ? 'SpecInvalid' : ready ? 'AllReady' : 'NotReady';
  const readyMessage = nothingRuns
    ? `generation ${rejected.generation ?? '?'} was rejected and no earlier one runs`
    : ready
      ? 'every process is ready'
      : `not ready: ${readiness.notReady.join(', ')}`;
  const conditions = [
    cond('Ready', ready, readyReason, readyMessage),
    cond('Degraded', troubled.length > 0, troubled.length > 0 ? 'ProcessesFailing' : 'AsExpected', troubled.length > 0 ? `failing: ${troubled.join(', ')}` : ''),
    rejected === undefined
      ? cond('SpecInvalid', false, 'Valid', '')
      : cond('SpecInvalid', true, 'ValidationFailed', rejected.error, rejected.generation),
  ];
  const readyCount = processes.filter((p) => p.ready).length;
  const summary: StatusSummary = rejected !== undefined ? 'SpecInvalid' : troubled.length > 0 ? 'Degraded' : ready ? 'Ready' : 'NotReady';
  const status = {
    ...(appliedGeneration === undefined ? {} : { observedGeneration: appliedGeneration }),
    processCount: processes.length,
    readyCount,
    readyProcesses: `${readyCount}/${processes.length}`,
    summary,
    conditions,
    processes: processes.map((p) => ({
      id: p.id,
      phase: p.phase,
      state: p.state,
      ...(p.pid === undefined ? {} : { pid: p.pid }),
      restarts: p.restarts,
      requestedRestarts: p.requestedRestarts,
      ready: p.ready,
      ...(p.lastExit ? { lastExit: { code: p.lastExit.code, signal: p.lastExit.signal, at: iso(p.lastExit.at) } } : {}),
      ...(p.lastError ? { lastError: p.lastError } : {}),
    })),
  };
  return { status, conditions };
}

/** Options of `StatusWriter`. */
export interface StatusWriterOptions {
  readonly api: ProcessSetApi;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Least time between two writes. Default 1 000 ms. */
  readonly minIntervalMs?: number | undefined;
  /** Retry delay after a failed write. Default 2 000 ms. */
  readonly retryMs?: number;
}

/**
 * Writes the ProcessSet's status, coalesced: at most one write in flight, at least
 * `minIntervalMs` apart, built fresh for each write, and nothing when it did not change. A failed
 * write (a conflict, the server away) is retried with the newest status.
 */
export class StatusWriter {
  readonly #o: StatusWriterOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #next: (() => Record<string, unknown>) | undefined;
  #written = '';
  #lastWriteAt = -Infinity;
  #inFlight: Promise<void> | undefined;
  #timer: TimerHandle | undefined;
  /** Writes sent (for tests and the benchmark). */
  writes = 0;

  constructor(options: StatusWriterOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#log = options.logger ?? silentLogger;
  }

  /**
   * Marks the status stale; `build` runs when the write goes out (at most once a `minIntervalMs`),
   * not on every event that marks it: a crash loop emits many events a second.
   */
  update(build: () => Record<string, unknown>): void {
    if (this.#stop.signal.aborted) return;
    this.#next = build;
    this.#schedule();
  }

  /**
   * Writes what is pending now (at shutdown), then stops. An abort of `signal` gives up on the
   * write in flight (a hung API server) and resolves at once.
   */
  async close(signal?: AbortSignal): Promise<void> {
    this.#timer?.cancel();
    const giveUp = (): void => this.#stop.abort(new Error('status writer closed'));
    if (signal?.aborted) giveUp();
    signal?.addEventListener('abort', giveUp, { once: true });
    try {
      await this.#inFlight;
      if (this.#next !== undefined && !this.#stop.signal.aborted) await this.#write().catch(() => undefined);
    } finally {
      signal?.removeEventListener('abort', giveUp);
      giveUp();
    }
  }

  #schedule(): void {
    if (this.#inFlight || this.#timer) return;
    const wait = this.#lastWriteAt + (this.#o.minIntervalMs ?? 1_000) - this.#clock.now();
    if (wait > 0) {
      this.#timer = this.#clock.setTimer(() => {
        this.#timer = undefined;
        this.#schedule();
      }, wait);
      return;
    }
    this.#inFlight = this.#write()
      .catch(async (err: unknown) => {
        this.#log.warn(apiErrorFields(err), 'writing ProcessSet status failed; retrying');
        await sleep(this.#clock, this.#o.retryMs ?? 2_000, this.#stop.signal).catch(() => undefined);
      })
      .finally(() => {
        this.#inFlight = undefined;
        if (this.#next !== undefined && !this.#stop.signal.aborted) this.#schedule();
      });
  }

  async #write(): Promise<void> {
    const build = this.#next;
    if (build === undefined) return;
    this.#next = undefined;
    const status = build();
    const text = canonicalJson(status);
    if (text === this.#written) return;
    this.#lastWriteAt = this.#clock.now();
    this.writes++;
    try {
      await this.#o.api.patchStatus(status, this.#stop.signal);
      this.#written = text;
    } catch (err) {
      this.#next ??= build; // retried with the newest status
      throw err;
    }
  }
}
