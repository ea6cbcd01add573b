import { ForceStoppedError, ManagerFailedError, ShutdownTimeoutError, type Clock, type Logger } from '../util/index.js';
import { hookFor, phaseOf } from './phase.js';
import { Calls } from './calls.js';
import { Events } from './events.js';
import { mergeType, newRecord, settleWaiters, type ActiveCall, type ProcessRecord, type Waiter } from './record.js';
import { requeueDelayMs } from './retry.js';
import type { Settings } from './settings.js';
import { TimerQueue } from './timer-queue.js';
import type {
  Hook,
  ManagerState,
  ProcessUpdate,
  SyncOutcome,
  SyncResult,
  TerminateOptions,
} from './types.js';

/**
 * The single owner of all process state (seed 000). Every method here is synchronous and runs to
 * completion; syncer calls run outside and come back as `settle` messages carrying the call they
 * answer, so a late answer from an abandoned call is recognised and dropped.
 *
 * Internal: only ProcessManager constructs and calls it, after validating input.
 */
export class Engine<C> {
  readonly records = new Map<string, ProcessRecord<C>>();
  state: ManagerState = 'running';
  /** Records not yet Finished. */
  liveCount = 0;
  /** Set once the engine failed internally; what every later call throws. */
  failure: ManagerFailedError | undefined;
  /** Called whenever liveCount drops to zero, or the engine fails (shutdown waits on it). */
  onIdle: (() => void) | undefined;

  private readonly runnable = new Set<ProcessRecord<C>>();
  /** Finished records, oldest finish first (see `maxFinished`). */
  private readonly finished = new Set<ProcessRecord<C>>();
  private drainScheduled = false;
  private readonly resyncs: TimerQueue<string>;
  private readonly calls: Calls<C>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly drainBound = (): void => this.guard(() => this.drain());
  private readonly events: Events;

  constructor(readonly settings: Settings<C>) {
    const s = settings;
    this.clock = s.clock;
    this.log = s.logger;
    this.events = new Events(s.onEvent, s.clock, s.logger);
    this.resyncs = new TimerQueue(s.clock, (id) => this.guard(() => this.onResync(id)));
    this.calls = new Calls<C>({
      clock: s.clock,
      abortGraceMs: s.abortGraceMs,
      logger: s.logger,
      guard: (fn) => this.guard(fn),
      settle: (rec, call, ok, value) => this.settle(rec, call, ok, value),
    });
  }

  get queueDepth(): number {
    return this.resyncs.size;
  }

  nextSyncAt(id: string): number | undefined {
    return this.resyncs.readyAt(id);
  }

  /** Applies a validated update. `waiter`, if given, settles when the process reaches Terminated. */
  update(u: ProcessUpdate<C>, waiter?: Waiter): void {
    let rec = this.records.get(u.id);
    if (!rec && u.type === 'terminate') {
      // Nothing ever ran under this id: no record, so a typo does not hold a slot forever.
      waiter?.resolve();
      this.events.emit({ type: 'ignored', id: u.id, reason: 'unknown' });
      return;
    }
    if (!rec) {
      rec = newRecord<C>(u.id, this.clock.now());
      this.records.set(u.id, rec);
      this.liveCount++;
      this.events.phase(rec, undefined);
    }
    if (rec.terminatingAt !== undefined) {
      // Restart requested by a create; later configs are the restart's too (latest wins).
      if (u.type === 'create') rec.restart = { config: u.config ?? rec.restart?.config ?? rec.pending?.config ?? (rec.config as C) };
      else if (rec.restart && u.config !== undefined) rec.restart = { config: u.config };
    }
    if (rec.finishedAt !== undefined) {
      waiter?.resolve();
      if (u.type !== 'terminate') this.events.emit({ type: 'ignored', id: u.id, reason: u.type === 'create' ? 'restartRequested' : 'finished' });
      return;
    }
    if (rec.terminatedAt !== undefined) waiter?.resolve();
    else if (waiter) (rec.waiters ??= []).push(waiter);
    // Once terminating, no update can take it back; later configs are still kept (sticky, latest wins).
    const type = rec.terminatingAt === undefined ? mergeType(rec.pending?.type, u.type) : 'terminate';
    rec.pending = { type, config: u.config ?? rec.pending?.config };
    if (u.type === 'terminate') this.requestTermination(rec, u.terminate);
    else this.makeRunnable(rec);
  }

  /**
   * Moves `rec` to Terminating now (or shortens its grace period). A process never started
   * finishes on the spot without hooks (B9); an in-flight call is aborted so the terminating hook
   * can run with the current grace (B5).
   */
  requestTermination(rec: ProcessRecord<C>, opts: TerminateOptions | undefined): void {
    if (rec.terminatedAt !== undefined) return;
    const requested = opts?.gracePeriodMs === undefined ? undefined : this.clampGrace(opts.gracePeriodMs);
    if (opts?.evict) rec.evict = true;
    if (rec.terminatingAt === undefined) {
      const config = rec.pending?.config ?? rec.config;
      rec.terminatingAt = this.clock.now();
      rec.gracePeriodMs = requested ?? this.clampGrace((config === undefined ? undefined : this.settings.gracePeriodFor(config)) ?? this.settings.defaultGracePeriodMs);
      rec.errorCount = 0;
      rec.failureCount = 0;
      rec.pending = { type: 'terminate', config: rec.pending?.config };
      this.events.phase(rec, rec.syncedAt === undefined ? 'Starting' : 'Syncing');
      if (rec.startedAt === undefined) return this.finishUnstarted(rec);
      this.makeRunnable(rec);
      if (rec.call) this.calls.abort(rec, rec.call, 'superseded');
      return;
    }
    if (requested !== undefined && rec.gracePeriodMs !== undefined && requested < rec.gracePeriodMs) {
      rec.gracePeriodMs = requested;
      this.makeRunnable(rec);
      if (rec.call?.hook === 'syncTerminating') this.calls.abort(rec, rec.call, 'superseded');
    }
  }

  /** Drops a Finished record so its id can be created again. */
  remove(rec: ProcessRecord<C>): void {
    this.records.delete(rec.id);
    this.finished.delete(rec);
    this.runnable.delete(rec);
    this.resyncs.delete(rec.id);
    try {
      this.settings.syncer.forget?.(rec.id);
    } catch (err) {
      this.log.warn({ process: rec.id, err }, 'syncer.forget threw; ignored');
    }
    this.events.emit({ type: 'removed', id: rec.id });
  }

  /**
   * Shutdown's deadline: aborts and abandons every unfinished process, rejects its waiters,
   * and stops all timers. Returns the ids it force-stopped.
   */
  forceStop(): string[] {
    const forced: string[] = [];
    for (const rec of this.records.values()) {
      if (rec.finishedAt !== undefined) continue;
      forced.push(rec.id);
      const call = rec.call;
      rec.call = undefined;
      settleWaiters(rec, new ForceStoppedError(rec.id));
      if (call) this.calls.abandon(rec, call, new ShutdownTimeoutError([rec.id]));
    }
    this.close('shutDown');
    return forced;
  }

  /** Stops every timer and pending dispatch; the engine does nothing after this. */
  close(state: 'shutDown' | 'failed'): void {
    this.state = state;
    this.runnable.clear();
    this.resyncs.clear();
    this.calls.clear();
  }

  /**
   * Deterministic degradation: a throw inside the engine's own code stops it, aborts every call
   * and rejects every waiter, so nothing anyone awaits can hang.
   */
  fail(err: unknown): void {
    if (this.state === 'failed') return;
    const failure = new ManagerFailedError(err);
    this.failure = failure;
    this.log.error({ err }, 'process manager failed internally; stopping');
    for (const rec of this.records.values()) {
      const call = rec.call;
      rec.call = undefined;
      if (call) this.calls.abandon(rec, call, failure);
      settleWaiters(rec, failure);
    }
    this.close('failed');
    this.events.emit({ type: 'failed', error: err });
    this.onIdle?.();
  }

  /** Runs `fn`; any throw fails the engine instead of escaping into a timer or promise callback. */
  guard(fn: () => void): void {
    if (this.state === 'failed') return;
    try {
      fn();
    } catch (err) {
      this.fail(err);
    }
  }

  // ---- worker: dispatch and settle --------------------------------------------------------

  private makeRunnable(rec: ProcessRecord<C>): void {
    if (rec.finishedAt !== undefined || this.state === 'shutDown' || this.state === 'failed') return;
    this.runnable.add(rec);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      // Dispatch from a microtask: updateProcess never runs syncer code on the caller's stack,
      // and updates given in one tick are coalesced (latest wins) before a worker sees them.
      queueMicrotask(this.drainBound);
    }
  }

  private drain(): void {
    this.drainScheduled = false;
    for (const rec of this.runnable) {
      this.runnable.delete(rec);
      // A record with a call in flight runs again from settle(), never in parallel.
      if (!rec.call) this.dispatch(rec);
    }
  }

  private dispatch(rec: ProcessRecord<C>): void {
    const pending = rec.pending;
    rec.pending = undefined;
    if (pending) {
      if (pending.config !== undefined) rec.config = pending.config;
      rec.updateType = pending.type;
    }
    const hook = hookFor(phaseOf(rec));
    if (!hook) return;
    this.resyncs.delete(rec.id);
    if (hook === 'syncProcess') rec.startedAt ??= this.clock.now();
    const timeout = hook === 'syncTerminating' ? (rec.gracePeriodMs ?? 0) + this.settings.terminatingSlackMs : this.settings.callTimeoutMs;
    this.calls.start(rec, hook, timeout, (signal) => this.invoke(rec, hook, signal));
  }

  private invoke(rec: ProcessRecord<C>, hook: Hook, signal: AbortSignal): Promise<unknown> {
    // Every hook-running record was created with a config; only B9 records lack one, and they never get here.
    const base = { id: rec.id, signal, updateType: rec.updateType, config: rec.config as C, attempt: rec.errorCount };
    const syncer = this.settings.syncer;
    switch (hook) {
      case 'syncProcess':
        return syncer.syncProcess(base);
      case 'syncTerminating':
        return syncer.syncTerminating({ ...base, gracePeriodMs: rec.gracePeriodMs ?? this.settings.minGracePeriodMs, evict: rec.evict });
      case 'syncTerminated':
        return syncer.syncTerminated(base);
    }
  }

  private settle(rec: ProcessRecord<C>, call: ActiveCall, ok: boolean, value: unknown): void {
    if (rec.call !== call) return; // abandoned, force-stopped, or the engine stopped
    rec.call = undefined;
    this.calls.done(rec, call);
    const now = this.clock.now();
    rec.lastSyncAt = now;
    rec.syncCount++;
    let outcome: SyncOutcome;
    let requeueAfter: number | undefined;
    if (ok) {
      rec.errorCount = 0;
      rec.failureCount = 0;
      rec.lastError = undefined;
      [outcome, requeueAfter] = this.onSuccess(rec, call.hook, value, now);
    } else {
      rec.totalErrors++;
      rec.lastError = value;
      outcome = this.classifyFailure(rec, call, value);
      // A supersede is not the process failing; timeouts and aborts are, as much as errors.
      if (outcome === 'error' || outcome === 'transient') rec.failureCount++;
    }
    if (this.events.on) {
      const event = { type: 'sync', id: rec.id, hook: call.hook, outcome, durationMs: now - call.startedAt } as const;
      this.events.emit(ok ? event : { ...event, error: value });
    }
    this.completeWork(rec, outcome, requeueAfter);
  }

  private onSuccess(rec: ProcessRecord<C>, hook: Hook, value: unknown, now: number): [SyncOutcome, number | undefined] {
    switch (hook) {
      case 'syncProcess': {
        const result = (value ?? {}) as SyncResult;
        if (rec.syncedAt === undefined) {
          rec.syncedAt = now;
          if (rec.terminatingAt === undefined) this.events.phase(rec, 'Starting');
        }
        if (result.terminal === true) this.requestTermination(rec, undefined);
        if (rec.terminatingAt !== undefined) return ['transition', undefined];
        const after = result.requeueAfterMs;
        return ['success', typeof after === 'number' && Number.isFinite(after) && after >= 0 ? after : undefined];
      }
      case 'syncTerminating':
        rec.terminatedAt = now;
        this.events.phase(rec, 'Terminating');
        settleWaiters(rec);
        return ['transition', undefined];
      case 'syncTerminated':
        rec.finishedAt = now;
        rec.pending = undefined;
        this.events.phase(rec, 'Terminated');
        this.onFinished(rec);
        return ['transition', undefined];
    }
  }

  private classifyFailure(rec: ProcessRecord<C>, call: ActiveCall, err: unknown): SyncOutcome {
    if (call.hook === 'syncProcess' && (err as { code?: unknown } | null)?.code === 'TERMINAL') {
      this.requestTermination(rec, undefined);
      return 'transition';
    }
    if (call.abortedFor === 'superseded') return 'superseded';
    if (this.settings.isTransient(err)) return 'transient';
    rec.errorCount++;
    this.log.debug({ process: rec.id, hook: call.hook, attempt: rec.errorCount, err }, 'sync failed');
    return 'error';
  }

  /** Decides what happens after a call: run again now, later, or never. */
  private completeWork(rec: ProcessRecord<C>, outcome: SyncOutcome, requeueAfter: number | undefined): void {
    if (rec.finishedAt !== undefined) return;
    // Newer desired state runs at once, as the kubelet's worker does with a waiting update.
    const delay = rec.pending ? 0 : requeueDelayMs(outcome, rec.errorCount, requeueAfter, this.settings, this.settings.random);
    if (this.events.on) this.events.emit({ type: 'requeue', id: rec.id, delayMs: delay, reason: outcome });
    // A phase transition or newer desired state runs in this turn; any other zero delay (a resync,
    // backoff or requeueAfterMs of 0) goes through the timer, so a syncer that always asks to run
    // again at once still lets timers, I/O and shutdown deadlines run between its calls.
    if (delay === 0 && (outcome === 'transition' || rec.pending)) this.makeRunnable(rec);
    else this.resyncs.add(rec.id, delay);
  }

  private onResync(id: string): void {
    const rec = this.records.get(id);
    if (!rec || rec.finishedAt !== undefined) return;
    rec.pending = { type: mergeType(rec.pending?.type, 'sync'), config: rec.pending?.config };
    this.makeRunnable(rec);
  }

  // ---- endings ----------------------------------------------------------------------------

  private finishUnstarted(rec: ProcessRecord<C>): void {
    const now = this.clock.now();
    if (rec.pending?.config !== undefined) rec.config = rec.pending.config;
    rec.pending = undefined;
    rec.terminatedAt = now;
    this.events.phase(rec, 'Terminating');
    settleWaiters(rec);
    rec.finishedAt = now;
    this.events.phase(rec, 'Terminated');
    this.runnable.delete(rec);
    this.resyncs.delete(rec.id);
    this.onFinished(rec);
  }

  private onFinished(rec: ProcessRecord<C>): void {
    this.liveCount--;
    this.finished.add(rec);
    if (this.finished.size > this.settings.maxFinished) this.dropOldestFinished();
    if (this.liveCount === 0) this.onIdle?.();
  }

  /**
   * Removes the record that finished first, as `syncKnownProcesses` would, so records nobody asks
   * about cannot pile up. One with a restart requested stays: it is wanted again.
   */
  private dropOldestFinished(): void {
    for (const old of this.finished) {
      if (old.restart) continue;
      this.remove(old);
      return;
    }
  }

  private clampGrace(ms: number): number {
    return Math.max(ms, this.settings.minGracePeriodMs);
  }
}
