import { InvalidArgumentError, QueueFullError, ShutdownError } from '../util/index.js';
import { ShutdownRun } from './shutdown.js';
import { Engine } from './engine.js';
import { PHASES, type HealthReport, type Phase, type ProcessManagerOptions, type ProcessStatus, type ProcessUpdate, type ShutdownOptions, type ShutdownResult, type TerminateWaitOptions } from './types.js';
import { snapshot } from './record.js';
import { checkId, checkTerminate, checkUpdate, duration, settingsFrom } from './validate.js';
import { phaseOf } from './phase.js';

/**
 * A kubelet-style manager of many processes. You declare what you want per id (`updateProcess`,
 * `syncKnownProcesses`); it drives a `ProcessSyncer` until that holds, retrying with backoff,
 * resyncing periodically, and walking each id forward through its phases to Finished.
 *
 * Every method is synchronous and never blocks, except the two that hand out promises
 * (`terminate`, `shutdown`), and those always settle. Bad input throws a typed error
 * (`InvalidArgumentError`, `ShutdownError`, `QueueFullError`, …) and changes nothing.
 */
export class ProcessManager<C> {
  readonly #engine: Engine<C>;
  #shutdownRun: ShutdownRun<C> | undefined;

  /** Stores its dependencies; does no I/O and starts no timer until an update arrives. */
  constructor(options: ProcessManagerOptions<C>) {
    this.#engine = new Engine(settingsFrom(options));
  }

  /** `running`, `shuttingDown`, `shutDown`, or `failed`. */
  get state(): HealthReport['state'] {
    return this.#engine.state;
  }

  /**
   * Declares a change for one id and returns at once; a worker applies it (latest wins).
   * `create` needs a config; `update`/`sync` without one keep the last config; `terminate` moves
   * the id to Terminating now. Updates to a Finished id are ignored until it is removed.
   * @throws InvalidArgumentError, ShutdownError (while or after shutting down), QueueFullError, ManagerFailedError
   */
  updateProcess(update: ProcessUpdate<C>): void {
    checkUpdate(update);
    this.#admit(update);
    this.#engine.update(update);
    this.#throwIfFailed();
  }

  /**
   * Requests termination and resolves when the id reaches Terminated (at once if it already
   * has, if it never started, or if the id is unknown). Rejects with `ForceStoppedError` if
   * shutdown gives up on it, with `signal.reason` when `options.signal` aborts first (the
   * termination goes on), or with a typed error for bad input. While the manager runs, a
   * `syncTerminating` that keeps failing is retried with backoff, so without a signal the wait
   * lasts until it succeeds or `shutdown` ends it.
   */
  terminate(id: string, options: TerminateWaitOptions = {}): Promise<void> {
    const { signal, ...terminate } = options;
    try {
      checkId(id);
      checkTerminate(terminate);
      signal?.throwIfAborted();
      const rec = this.#engine.processes.get(id);
      if (rec?.terminatedAt !== undefined) return Promise.resolve();
      this.#admit({ id, type: 'terminate' });
      if (rec === undefined) {
        this.#engine.update({ id, type: 'terminate', terminate });
        return Promise.resolve();
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      // The AbortSignal convention: reject with whatever reason the aborter chose.
      const onAbort = (): void => reject(signal?.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      const waiter = {
        resolve: () => (done(), resolve()),
        reject: (err: unknown) => (done(), reject(err)),
      };
      this.#engine.update({ id, type: 'terminate', terminate }, waiter);
      if (this.#engine.failure) reject(this.#engine.failure);
    });
  }

  /**
   * Reconciles against the full desired set: every known id not in `desired` is driven to
   * termination now (B3), Finished ids not desired are removed (so they may be created again), a
   * Finished id that got a `create` while terminating or finished and is still desired is removed
   * and started afresh with that create's config (the kubelet's restartRequested), and the status
   * of every remaining id is returned. Ids in `desired` that are unknown are not created.
   * @throws InvalidArgumentError for a malformed id, ShutdownError after shutdown
   */
  syncKnownProcesses(desired: Iterable<string>): Map<string, ProcessStatus<C>> {
    const want = new Set<string>();
    for (const id of desired) {
      checkId(id, 'desired[]');
      want.add(id);
    }
    this.#throwIfClosed();
    this.#engine.reconcile(want);
    this.#throwIfFailed();
    const out = new Map<string, ProcessStatus<C>>();
    for (const [id, rec] of this.#engine.processes) out.set(id, snapshot(rec, this.#engine.nextSyncAt(id)));
    return out;
  }

  /** A snapshot of one id, or undefined if unknown (or removed). */
  getStatus(id: string): ProcessStatus<C> | undefined {
    const rec = this.#engine.processes.get(id);
    return rec && snapshot(rec, this.#engine.nextSyncAt(id));
  }

  /** The phase of one id, or undefined if unknown (or removed): `getStatus(id)?.phase` without building a snapshot. */
  phase(id: string): Phase | undefined {
    const rec = this.#engine.processes.get(id);
    return rec && phaseOf(rec);
  }

  /** Snapshots of every known id, in creation order. */
  list(): ProcessStatus<C>[] {
    return [...this.#engine.processes.values()].map((r) => snapshot(r, this.#engine.nextSyncAt(r.id)));
  }

  /** True once the id reached Terminated (or Finished). */
  isTerminated(id: string): boolean {
    return this.#engine.processes.get(id)?.terminatedAt !== undefined;
  }

  /** True once the id reached Finished (and has not been removed). */
  isFinished(id: string): boolean {
    return this.#engine.processes.get(id)?.finishedAt !== undefined;
  }

  /** Counts for /healthz and metrics. O(number of ids). */
  health(): HealthReport {
    const byPhase = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>;
    let unhealthy = 0;
    let inFlight = 0;
    for (const rec of this.#engine.processes.values()) {
      byPhase[phaseOf(rec)]++;
      if (rec.failureCount > 0) unhealthy++;
      if (rec.call) inFlight++;
    }
    const state = this.#engine.state;
    return {
      healthy: state === 'running' && unhealthy === 0,
      state,
      total: this.#engine.processes.size,
      byPhase,
      unhealthy,
      inFlight,
      queueDepth: this.#engine.queueDepth,
    };
  }

  /**
   * Stops taking new work, terminates every live id with its grace period, and waits until all
   * are Finished (B1). If the deadline passes or `signal` aborts first, what is left is aborted
   * and abandoned and the promise rejects with `ShutdownTimeoutError` listing those ids. Without
   * `deadlineMs` the wait is still bounded: largest grace + `terminatingSlackMs` + `callTimeoutMs`.
   * Idempotent: later calls return the same promise (and may tighten its deadline).
   * Afterwards, mutating calls throw `ShutdownError`.
   */
  shutdown(options: ShutdownOptions = {}): Promise<ShutdownResult> {
    try {
      if (options.deadlineMs !== undefined) duration(options.deadlineMs, 'deadlineMs');
      if (!this.#shutdownRun) this.#throwIfFailed();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#shutdownRun) this.#shutdownRun.tighten(options);
    else this.#shutdownRun = new ShutdownRun(this.#engine, options);
    return this.#shutdownRun.promise;
  }

  // Admission: what may enter the tables in the current state.
  #admit(u: { readonly id: string; readonly type: ProcessUpdate<C>['type']; readonly config?: C }): void {
    this.#throwIfFailed();
    const known = this.#engine.processes.has(u.id);
    const state = this.#engine.state;
    if (state === 'shutDown') throw new ShutdownError();
    if (state === 'shuttingDown' && (!known || u.type !== 'terminate')) {
      throw new ShutdownError('the process manager is shutting down; only terminations of known ids are accepted');
    }
    // A terminate of an unknown id creates no record, so it needs no slot.
    if (known || u.type === 'terminate') return;
    if (u.config === undefined) {
      throw new InvalidArgumentError(`config: required to ${u.type} unknown process "${u.id}"`, { field: 'config', id: u.id });
    }
    const max = this.#engine.settings.maxProcesses;
    if (this.#engine.processes.size >= max) {
      throw new QueueFullError(`cannot track process "${u.id}": the limit of ${max} processes is reached`, {
        id: u.id,
        maxProcesses: max,
      });
    }
  }

  #throwIfFailed(): void {
    if (this.#engine.failure) throw this.#engine.failure;
  }

  #throwIfClosed(): void {
    this.#throwIfFailed();
    if (this.#engine.state === 'shutDown') throw new ShutdownError();
  }
}
