import { ForceStoppedError, ManagerFailedError, ShutdownTimeoutError, type Clock } from '../util/index.js';
import { hookFor, phaseOf } from './phase.js';
import { Calls } from './calls.js';
import { Events } from './events.js';
import { mergeType, newRecord, settleWaiters, type ActiveCall, type ProcessRecord, type Waiter } from './record.js';
import { requeueDelayMs } from './retry.js';
import type { Settings } from './settings.js';
import { ProcessTable } from './table.js';
import type { Hook, ManagerState, ProcessUpdate, SyncOutcome, SyncResult, TerminateOptions } from './types.js';
import { WorkQueue } from './work-queue.js';

/**
 * The single owner of all process state (seed 000). Every method here is synchronous and runs to
 * completion; syncer calls run outside and come back as `settle` messages carrying the call they
 * answer, so a late answer from an abandoned call is recognised and dropped. Others read its
 * state and ask for changes through its intent methods; each intent runs guarded, so a throw in
 * the engine's own code fails the engine instead of escaping to the caller.
 *
 * Internal: only ProcessManager and its ShutdownRun call it, after validating input.
 */
export class Engine<C> {
  readonly settings: Settings<C>;
  readonly #table: ProcessTable<C>;
  #state: ManagerState = 'running';
  #failure: ManagerFailedError | undefined;
  #onIdle: (() => void) | undefined;
  readonly #queue: WorkQueue<C>;
  readonly #calls: Calls<C>;
  readonly #clock: Clock;
  readonly #events: Events;

  constructor(settings: Settings<C>) {
    const s = settings;
    this.settings = s;
    this.#clock = s.clock;
    this.#table = new ProcessTable(s.maxFinished);
    this.#events = new Events(s.onEvent, s.clock, s.logger);
    const guard = (fn: () => void): void => this.#guard(fn);
    this.#queue = new WorkQueue<C>({ clock: s.clock, guard, dispatch: (rec) => this.#dispatch(rec), due: (rec) => this.#onResync(rec) });
    this.#calls = new Calls<C>({
      settings: s,
      guard,
      settle: (rec, call, ok, value) => this.#settle(rec, call, ok, value),
    });
  }

  // ---- what others read -------------------------------------------------------------------

  get state(): ManagerState {
    return this.#state;
  }

  /** Set once the engine failed internally; what every later call throws. */
  get failure(): ManagerFailedError | undefined {
    return this.#failure;
  }

  /** Every record by id, in creation order; read-only to everyone but the engine. */
  get processes(): ReadonlyMap<string, Readonly<ProcessRecord<C>>> {
    return this.#table.records;
  }

  /** Records not yet Finished. */
  get liveCount(): number {
    return this.#table.live;
  }

  get queueDepth(): number {
    return this.#queue.waiting;
  }

  nextSyncAt(id: string): number | undefined {
    const rec = this.#table.records.get(id);
    return rec && this.#queue.readyAt(rec);
  }

  // ---- intents ----------------------------------------------------------------------------

  /** Applies a validated update. `waiter`, if given, settles when the process reaches Terminated. */
  update(u: ProcessUpdate<C>, waiter?: Waiter): void {
    this.#guard(() => this.#update(u, waiter));
  }

  /**
   * Reconciles against the full desired set (ProcessManager.syncKnownProcesses): terminates every
   * id not desired, removes Finished ids not desired, and starts afresh a Finished id with a
   * restart requested that is still desired.
   */
  reconcile(want: ReadonlySet<string>): void {
    this.#guard(() => {
      for (const rec of this.#table.records.values()) {
        if (!want.has(rec.id) && rec.terminatingAt === undefined) this.#requestTermination(rec, undefined);
      }
      const finished = [...this.#table.records.values()].filter((r) => r.finishedAt !== undefined && (!want.has(r.id) || r.restart));
      for (const rec of finished) {
        this.#remove(rec);
        if (want.has(rec.id) && rec.restart && this.#state === 'running') this.#update({ id: rec.id, type: 'create', config: rec.restart.config });
      }
    });
  }

  /**
   * Shutdown's start: from now on only terminations of known ids are admitted, and every process
   * is requested to terminate with its grace. `onIdle` runs whenever no process is live any
   * more, and when the engine fails.
   */
  beginShutdown(onIdle: () => void): void {
    if (this.#state === 'running') this.#state = 'shuttingDown';
    this.#onIdle = onIdle;
    this.#guard(() => {
      for (const rec of this.#table.records.values()) this.#requestTermination(rec, undefined);
    });
  }

  /** Shutdown's end: no more idle callbacks, and every timer stopped (unless the engine failed). */
  endShutdown(): void {
    this.#onIdle = undefined;
    if (this.#state !== 'failed') this.#close('shutDown');
  }

  /**
   * Shutdown's deadline: aborts and abandons every unfinished process, rejects its waiters,
   * and stops all timers. Returns the ids it force-stopped.
   */
  forceStop(): string[] {
    const forced: string[] = [];
    for (const rec of this.#table.records.values()) {
      if (rec.finishedAt !== undefined) continue;
      forced.push(rec.id);
      const call = rec.call;
      rec.call = undefined;
      settleWaiters(rec, new ForceStoppedError(rec.id));
      if (call) this.#calls.abandon(rec, call, new ShutdownTimeoutError([rec.id]));
    }
    this.#close('shutDown');
    return forced;
  }

  // ---- updates and termination ------------------------------------------------------------

  #update(u: ProcessUpdate<C>, waiter?: Waiter): void {
    let rec = this.#table.records.get(u.id);
    if (!rec && u.type === 'terminate') {
      // Nothing ever ran under this id: no record, so a typo does not hold a slot forever.
      waiter?.resolve();
      this.#events.emit({ type: 'ignored', id: u.id, reason: 'unknown' });
      return;
    }
    if (!rec) {
      rec = newRecord<C>(u.id, this.#clock.now());
      this.#table.add(rec);
      this.#events.phase(rec, undefined);
    }
    if (rec.terminatingAt !== undefined) {
      // Restart requested by a create; later configs are the restart's too (latest wins).
      if (u.type === 'create') rec.restart = { config: u.config ?? rec.restart?.config ?? rec.pending?.config ?? (rec.config as C) };
      else if (rec.restart && u.config !== undefined) rec.restart = { config: u.config };
    }
    if (rec.finishedAt !== undefined) {
      waiter?.resolve();
      if (u.type !== 'terminate') this.#events.emit({ type: 'ignored', id: u.id, reason: u.type === 'create' ? 'restartRequested' : 'finished' });
      return;
    }
    if (rec.terminatedAt !== undefined) waiter?.resolve();
    else if (waiter) (rec.waiters ??= []).push(waiter);
    // Once terminating, no update can take it back; later configs are still kept (sticky, latest wins).
    const type = rec.terminatingAt === undefined ? mergeType(rec.pending?.type, u.type) : 'terminate';
    rec.pending = { type, config: u.config ?? rec.pending?.config };
    if (u.type === 'terminate') this.#requestTermination(rec, u.terminate);
    else this.#queue.runNow(rec);
  }

  /**
   * Moves `rec` to Terminating now (or shortens its grace period). A process never started
   * finishes on the spot without hooks (B9); an in-flight call is aborted so the terminating hook
   * can run with the current grace (B5).
   */
  #requestTermination(rec: ProcessRecord<C>, opts: TerminateOptions | undefined): void {
    if (rec.terminatedAt !== undefined) return;
    const s = this.settings;
    const requested = opts?.gracePeriodMs === undefined ? undefined : this.#clampGrace(opts.gracePeriodMs);
    if (opts?.evict) rec.evict = true;
    if (rec.terminatingAt === undefined) {
      const config = rec.pending?.config ?? rec.config;
      rec.terminatingAt = this.#clock.now();
      rec.gracePeriodMs = requested ?? this.#clampGrace((config === undefined ? undefined : s.gracePeriodFor(config)) ?? s.defaultGracePeriodMs);
      rec.errorCount = 0;
      rec.failureCount = 0;
      rec.pending = { type: 'terminate', config: rec.pending?.config };
      this.#events.phase(rec, rec.syncedAt === undefined ? 'Starting' : 'Syncing');
      if (rec.startedAt === undefined) return this.#finishUnstarted(rec);
      this.#queue.runNow(rec);
      if (rec.call) this.#calls.abort(rec, rec.call, 'superseded');
      return;
    }
    if (requested !== undefined && rec.gracePeriodMs !== undefined && requested < rec.gracePeriodMs) {
      rec.gracePeriodMs = requested;
      this.#queue.runNow(rec);
      if (rec.call?.hook === 'syncTerminating') this.#calls.abort(rec, rec.call, 'superseded');
    }
  }

  #clampGrace(ms: number): number {
    return Math.max(ms, this.settings.minGracePeriodMs);
  }

  // ---- worker: dispatch and settle --------------------------------------------------------

  #dispatch(rec: ProcessRecord<C>): void {
    const pending = rec.pending;
    rec.pending = undefined;
    if (pending) {
      if (pending.config !== undefined) rec.config = pending.config;
      rec.updateType = pending.type;
    }
    const hook = hookFor(phaseOf(rec));
    if (!hook) return;
    if (hook === 'syncProcess') rec.startedAt ??= this.#clock.now();
    this.#calls.start(rec, hook);
  }

  #settle(rec: ProcessRecord<C>, call: ActiveCall, ok: boolean, value: unknown): void {
    if (rec.call !== call) return; // abandoned, force-stopped, or the engine stopped
    rec.call = undefined;
    this.#calls.done(call);
    const now = this.#clock.now();
    rec.lastSyncAt = now;
    rec.syncCount++;
    let outcome: SyncOutcome;
    let requeueAfter: number | undefined;
    if (ok) {
      rec.errorCount = 0;
      rec.failureCount = 0;
      rec.lastError = undefined;
      [outcome, requeueAfter] = this.#onSuccess(rec, call.hook, value, now);
    } else {
      rec.totalErrors++;
      rec.lastError = value;
      outcome = this.#classifyFailure(rec, call, value);
      // A supersede is not the process failing; timeouts and aborts are, as much as errors.
      if (outcome === 'error' || outcome === 'transient') rec.failureCount++;
    }
    if (this.#events.on) {
      const event = { type: 'sync', id: rec.id, hook: call.hook, outcome, durationMs: now - call.startedAt } as const;
      this.#events.emit(ok ? event : { ...event, error: value });
    }
    this.#completeWork(rec, outcome, requeueAfter);
  }

  #onSuccess(rec: ProcessRecord<C>, hook: Hook, value: unknown, now: number): [SyncOutcome, number | undefined] {
    switch (hook) {
      case 'syncProcess': {
        const result = (value ?? {}) as SyncResult;
        if (rec.syncedAt === undefined) {
          rec.syncedAt = now;
          if (rec.terminatingAt === undefined) this.#events.phase(rec, 'Starting');
        }
        if (result.terminal === true) this.#requestTermination(rec, undefined);
        if (rec.terminatingAt !== undefined) return ['transition', undefined];
        const after = result.requeueAfterMs;
        return ['success', typeof after === 'number' && Number.isFinite(after) && after >= 0 ? after : undefined];
      }
      case 'syncTerminating':
        rec.terminatedAt = now;
        this.#events.phase(rec, 'Terminating');
        settleWaiters(rec);
        return ['transition', undefined];
      case 'syncTerminated':
        rec.finishedAt = now;
        rec.pending = undefined;
        this.#events.phase(rec, 'Terminated');
        this.#onFinished(rec);
        return ['transition', undefined];
    }
  }

  #classifyFailure(rec: ProcessRecord<C>, call: ActiveCall, err: unknown): SyncOutcome {
    if (call.hook === 'syncProcess' && (err as { code?: unknown } | null)?.code === 'TERMINAL') {
      this.#requestTermination(rec, undefined);
      return 'transition';
    }
    if (call.abortedFor === 'superseded') return 'superseded';
    if (this.settings.isTransient(err)) return 'transient';
    rec.errorCount++;
    this.settings.logger.debug({ process: rec.id, hook: call.hook, attempt: rec.errorCount, err }, 'sync failed');
    return 'error';
  }

  /** Decides what happens after a call: run again now, later, or never. */
  #completeWork(rec: ProcessRecord<C>, outcome: SyncOutcome, requeueAfter: number | undefined): void {
    if (rec.finishedAt !== undefined) return;
    // Newer desired state runs at once, as the kubelet's worker does with a waiting update.
    const delay = rec.pending ? 0 : requeueDelayMs(outcome, rec.errorCount, requeueAfter, this.settings, this.settings.random);
    if (this.#events.on) this.#events.emit({ type: 'requeue', id: rec.id, delayMs: delay, reason: outcome });
    // A phase transition or newer desired state runs in this turn; any other zero delay (a resync,
    // backoff or requeueAfterMs of 0) goes through the timer, so a syncer that always asks to run
    // again at once still lets timers, I/O and shutdown deadlines run between its calls.
    if (delay === 0 && (outcome === 'transition' || rec.pending)) this.#queue.runNow(rec);
    else this.#queue.runAfter(rec, delay);
  }

  #onResync(rec: ProcessRecord<C>): void {
    if (rec.finishedAt !== undefined) return;
    rec.pending = { type: mergeType(rec.pending?.type, 'sync'), config: rec.pending?.config };
    this.#queue.runNow(rec);
  }

  // ---- endings ----------------------------------------------------------------------------

  #finishUnstarted(rec: ProcessRecord<C>): void {
    const now = this.#clock.now();
    if (rec.pending?.config !== undefined) rec.config = rec.pending.config;
    rec.pending = undefined;
    rec.terminatedAt = now;
    this.#events.phase(rec, 'Terminating');
    settleWaiters(rec);
    rec.finishedAt = now;
    this.#events.phase(rec, 'Terminated');
    this.#queue.forget(rec);
    this.#onFinished(rec);
  }

  #onFinished(rec: ProcessRecord<C>): void {
    const drop = this.#table.finished(rec);
    if (drop) this.#remove(drop);
    if (this.#table.live === 0) this.#onIdle?.();
  }

  /** Drops a Finished record so its id can be created again. */
  #remove(rec: ProcessRecord<C>): void {
    this.#table.delete(rec);
    this.#queue.forget(rec);
    try {
      this.settings.syncer.forget?.(rec.id);
    } catch (err) {
      this.settings.logger.warn({ process: rec.id, err }, 'syncer.forget threw; ignored');
    }
    this.#events.emit({ type: 'removed', id: rec.id });
  }

  /** Stops every timer and pending dispatch; the engine does nothing after this. */
  #close(state: 'shutDown' | 'failed'): void {
    this.#state = state;
    this.#queue.close();
    this.#calls.clear();
  }

  /**
   * Deterministic degradation: a throw inside the engine's own code stops it, aborts every call
   * and rejects every waiter, so nothing anyone awaits can hang.
   */
  #fail(err: unknown): void {
    if (this.#state === 'failed') return;
    const failure = new ManagerFailedError(err);
    this.#failure = failure;
    this.settings.logger.error({ err }, 'process manager failed internally; stopping');
    for (const rec of this.#table.records.values()) {
      const call = rec.call;
      rec.call = undefined;
      if (call) this.#calls.abandon(rec, call, failure);
      settleWaiters(rec, failure);
    }
    this.#close('failed');
    this.#events.emit({ type: 'failed', error: err });
    this.#onIdle?.();
  }

  /** Runs `fn`; any throw fails the engine instead of escaping into a timer or promise callback. */
  #guard(fn: () => void): void {
    if (this.#state === 'failed') return;
    try {
      fn();
    } catch (err) {
      this.#fail(err);
    }
  }
}
