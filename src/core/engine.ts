import {
  ForceStoppedError,
  ManagerFailedError,
  ShutdownTimeoutError,
  SyncTimeoutError,
  abortError,
  describe,
  type Clock,
  type Logger,
  type Random,
  type TimerHandle,
} from '../util/index.js';
import { hookFor, phaseOf } from './phase.js';
import { mergeType, newRecord, type AbortCause, type ActiveCall, type ProcessRecord, type Waiter } from './record.js';
import { requeueDelayMs, type RetrySettings } from './retry.js';
import { TimerQueue } from './timer-queue.js';
import type {
  Hook,
  ManagerEvent,
  ManagerState,
  Phase,
  ProcessSyncer,
  ProcessUpdate,
  SyncOutcome,
  SyncResult,
  TerminateOptions,
} from './types.js';

/** Options with their defaults filled in (see validate.ts). */
export interface Settings<C> extends RetrySettings {
  readonly syncer: ProcessSyncer<C>;
  readonly isTransient: (err: unknown) => boolean;
  readonly defaultGracePeriodMs: number;
  readonly minGracePeriodMs: number;
  readonly gracePeriodFor: (config: C) => number | undefined;
  readonly callTimeoutMs: number;
  readonly terminatingSlackMs: number;
  readonly abortGraceMs: number;
  readonly maxProcesses: number;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly onEvent: ((event: ManagerEvent) => void) | undefined;
}

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
  private drainScheduled = false;
  private readonly resyncs: TimerQueue<string>;
  private readonly deadlines: TimerQueue<string>;
  private nextToken = 0;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly drainBound = (): void => this.guard(() => this.drain());
  /** Records whose call was dispatched this turn; their deadlines are armed on the next timer turn. */
  private unarmed: ProcessRecord<C>[] = [];
  private armTimer: TimerHandle | undefined;
  private readonly armBound = (): void => this.guard(() => this.armDeadlines());
  private readonly s: Settings<C>;

  constructor(readonly settings: Settings<C>) {
    const s = settings;
    this.s = s;
    this.clock = s.clock;
    this.log = s.logger;
    this.resyncs = new TimerQueue(s.clock, (id) => this.guard(() => this.onResync(id)));
    this.deadlines = new TimerQueue(s.clock, (id) => this.guard(() => this.onDeadline(id)));
  }

  get queueDepth(): number {
    return this.resyncs.size;
  }

  get inFlight(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.call) n++;
    return n;
  }

  nextSyncAt(id: string): number | undefined {
    return this.resyncs.readyAt(id);
  }

  /** Applies a validated update. `waiter`, if given, settles when the process reaches Terminated. */
  update(u: ProcessUpdate<C>, waiter?: Waiter): void {
    let rec = this.records.get(u.id);
    if (!rec) {
      rec = newRecord<C>(u.id, this.clock.now());
      this.records.set(u.id, rec);
      this.liveCount++;
      this.emitPhase(rec, undefined);
    }
    if (rec.finishedAt !== undefined) {
      waiter?.resolve();
      if (u.type !== 'terminate') this.emit({ type: 'ignored', id: u.id, reason: 'finished' });
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
      rec.gracePeriodMs = requested ?? this.clampGrace((config === undefined ? undefined : this.s.gracePeriodFor(config)) ?? this.s.defaultGracePeriodMs);
      rec.errorCount = 0;
      rec.pending = { type: 'terminate', config: rec.pending?.config };
      this.emitPhase(rec, rec.syncedAt === undefined ? 'Starting' : 'Syncing');
      if (rec.startedAt === undefined) return this.finishUnstarted(rec);
      this.makeRunnable(rec);
      if (rec.call) this.abortCall(rec, rec.call, 'superseded');
      return;
    }
    if (requested !== undefined && rec.gracePeriodMs !== undefined && requested < rec.gracePeriodMs) {
      rec.gracePeriodMs = requested;
      this.makeRunnable(rec);
      if (rec.call?.hook === 'syncTerminating') this.abortCall(rec, rec.call, 'superseded');
    }
  }

  /** Drops a Finished record so its id can be created again. */
  remove(rec: ProcessRecord<C>): void {
    this.records.delete(rec.id);
    this.runnable.delete(rec);
    this.resyncs.delete(rec.id);
    this.emit({ type: 'removed', id: rec.id });
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
      this.rejectWaiters(rec, new ForceStoppedError(rec.id));
      if (call) this.abort(call, 'shutdown', new ShutdownTimeoutError([rec.id]));
    }
    this.close('shutDown');
    return forced;
  }

  /** Stops every timer and pending dispatch; the engine does nothing after this. */
  close(state: 'shutDown' | 'failed'): void {
    this.state = state;
    this.runnable.clear();
    this.resyncs.clear();
    this.deadlines.clear();
    this.armTimer?.cancel();
    this.armTimer = undefined;
    this.unarmed = [];
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
      if (call) this.abort(call, 'shutdown', failure);
      this.rejectWaiters(rec, failure);
    }
    this.close('failed');
    this.emit({ type: 'failed', error: err });
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
    const now = this.clock.now();
    if (hook === 'syncProcess') rec.startedAt ??= now;
    const timeout = hook === 'syncTerminating' ? (rec.gracePeriodMs ?? 0) + this.s.terminatingSlackMs : this.s.callTimeoutMs;
    const call: ActiveCall = {
      token: ++this.nextToken,
      hook,
      controller: new AbortController(),
      startedAt: now,
      deadlineAt: now + timeout,
      deadlineArmed: false,
      abortedFor: undefined,
    };
    rec.call = call;
    // Most calls settle within the turn; only those still running get a deadline-queue entry.
    this.unarmed.push(rec);
    this.armTimer ??= this.clock.setTimer(this.armBound, 0);
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(this.invoke(rec, hook, call.controller.signal));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (value) => this.guard(() => this.settle(rec, call, true, value)),
      (err: unknown) => this.guard(() => this.settle(rec, call, false, err)),
    );
  }

  private invoke(rec: ProcessRecord<C>, hook: Hook, signal: AbortSignal): Promise<unknown> {
    // Every hook-running record was created with a config; only B9 records lack one, and they never get here.
    const base = { id: rec.id, signal, updateType: rec.updateType, config: rec.config as C, attempt: rec.errorCount };
    const syncer = this.s.syncer;
    switch (hook) {
      case 'syncProcess':
        return syncer.syncProcess(base);
      case 'syncTerminating':
        return syncer.syncTerminating({ ...base, gracePeriodMs: rec.gracePeriodMs ?? this.s.minGracePeriodMs, evict: rec.evict });
      case 'syncTerminated':
        return syncer.syncTerminated(base);
    }
  }

  private settle(rec: ProcessRecord<C>, call: ActiveCall, ok: boolean, value: unknown): void {
    if (rec.call !== call) return; // abandoned, force-stopped, or the engine stopped
    rec.call = undefined;
    if (call.deadlineArmed) this.deadlines.delete(rec.id);
    const now = this.clock.now();
    rec.lastSyncAt = now;
    rec.syncCount++;
    let outcome: SyncOutcome;
    let requeueAfter: number | undefined;
    if (ok) {
      rec.errorCount = 0;
      rec.lastError = undefined;
      [outcome, requeueAfter] = this.onSuccess(rec, call.hook, value, now);
    } else {
      rec.totalErrors++;
      rec.lastError = value;
      outcome = this.classifyFailure(rec, call, value);
    }
    if (this.s.onEvent) {
      const event = { type: 'sync', id: rec.id, hook: call.hook, outcome, durationMs: now - call.startedAt } as const;
      this.emit(ok ? event : { ...event, error: value });
    }
    this.completeWork(rec, outcome, requeueAfter);
  }

  private onSuccess(rec: ProcessRecord<C>, hook: Hook, value: unknown, now: number): [SyncOutcome, number | undefined] {
    switch (hook) {
      case 'syncProcess': {
        const result = (value ?? {}) as SyncResult;
        if (rec.syncedAt === undefined) {
          rec.syncedAt = now;
          if (rec.terminatingAt === undefined) this.emitPhase(rec, 'Starting');
        }
        if (result.terminal === true) this.requestTermination(rec, undefined);
        if (rec.terminatingAt !== undefined) return ['transition', undefined];
        const after = result.requeueAfterMs;
        return ['success', typeof after === 'number' && Number.isFinite(after) && after >= 0 ? after : undefined];
      }
      case 'syncTerminating':
        rec.terminatedAt = now;
        this.emitPhase(rec, 'Terminating');
        this.resolveWaiters(rec);
        return ['transition', undefined];
      case 'syncTerminated':
        rec.finishedAt = now;
        rec.pending = undefined;
        this.emitPhase(rec, 'Terminated');
        this.onFinished();
        return ['transition', undefined];
    }
  }

  private classifyFailure(rec: ProcessRecord<C>, call: ActiveCall, err: unknown): SyncOutcome {
    if (call.hook === 'syncProcess' && (err as { code?: unknown } | null)?.code === 'TERMINAL') {
      this.requestTermination(rec, undefined);
      return 'transition';
    }
    if (call.abortedFor === 'superseded') return 'superseded';
    if (this.s.isTransient(err)) return 'transient';
    rec.errorCount++;
    this.log.debug({ process: rec.id, hook: call.hook, attempt: rec.errorCount, err }, 'sync failed');
    return 'error';
  }

  /** Decides what happens after a call: run again now, later, or never. */
  private completeWork(rec: ProcessRecord<C>, outcome: SyncOutcome, requeueAfter: number | undefined): void {
    if (rec.finishedAt !== undefined) return;
    // Newer desired state runs at once, as the kubelet's worker does with a waiting update.
    const delay = rec.pending ? 0 : requeueDelayMs(outcome, rec.errorCount, requeueAfter, this.s, this.s.random);
    if (this.s.onEvent) this.emit({ type: 'requeue', id: rec.id, delayMs: delay, reason: outcome });
    if (delay === 0) this.makeRunnable(rec);
    else this.resyncs.add(rec.id, delay);
  }

  private armDeadlines(): void {
    this.armTimer = undefined;
    const recs = this.unarmed;
    this.unarmed = [];
    const now = this.clock.now();
    for (const rec of recs) {
      const call = rec.call;
      if (!call || call.deadlineArmed) continue; // settled already, or listed twice
      call.deadlineArmed = true;
      this.deadlines.add(rec.id, call.deadlineAt - now); // add: an abort's shorter grace may be there already
    }
  }

  private onResync(id: string): void {
    const rec = this.records.get(id);
    if (!rec || rec.finishedAt !== undefined) return;
    rec.pending = { type: mergeType(rec.pending?.type, 'sync'), config: rec.pending?.config };
    this.makeRunnable(rec);
  }

  // First the call's deadline aborts it; if it then ignores the abort for abortGraceMs, it is
  // abandoned so nothing waits on it forever (its late answer is dropped by settle).
  private onDeadline(id: string): void {
    const rec = this.records.get(id);
    const call = rec?.call;
    if (!rec || !call) return;
    if (call.abortedFor === undefined) {
      const err = new SyncTimeoutError(`${call.hook} for "${id}" exceeded its deadline`, { id, hook: call.hook });
      this.abortCall(rec, call, 'timeout', err);
      return;
    }
    this.log.warn({ process: id, hook: call.hook, abortedFor: call.abortedFor }, 'syncer ignored its abort signal; abandoning the call');
    const err = new SyncTimeoutError(`${call.hook} for "${id}" ignored its abort signal for ${this.s.abortGraceMs} ms`, { id });
    this.settle(rec, call, false, call.abortedFor === 'superseded' ? call.controller.signal.reason : err);
  }

  private abortCall(rec: ProcessRecord<C>, call: ActiveCall, cause: AbortCause, reason?: unknown): void {
    if (call.abortedFor !== undefined) {
      // Already aborted (say, by a timeout): a supersede still means "rerun now, no backoff".
      if (cause === 'superseded') call.abortedFor = cause;
      return;
    }
    call.deadlineArmed = true;
    this.deadlines.add(rec.id, this.s.abortGraceMs);
    this.abort(call, cause, reason ?? abortError(`${call.hook} for "${rec.id}" was superseded by a newer update`));
  }

  private abort(call: ActiveCall, cause: AbortCause, reason: unknown): void {
    call.abortedFor ??= cause;
    try {
      call.controller.abort(reason);
    } catch (err) {
      // An abort listener is syncer code; its throw must not break the engine's bookkeeping.
      this.log.warn({ err: describe(err) }, 'an abort listener threw');
    }
  }

  // ---- endings ----------------------------------------------------------------------------

  private finishUnstarted(rec: ProcessRecord<C>): void {
    const now = this.clock.now();
    if (rec.pending?.config !== undefined) rec.config = rec.pending.config;
    rec.pending = undefined;
    rec.terminatedAt = now;
    this.emitPhase(rec, 'Terminating');
    this.resolveWaiters(rec);
    rec.finishedAt = now;
    this.emitPhase(rec, 'Terminated');
    this.runnable.delete(rec);
    this.resyncs.delete(rec.id);
    this.onFinished();
  }

  private onFinished(): void {
    this.liveCount--;
    if (this.liveCount === 0) this.onIdle?.();
  }

  private resolveWaiters(rec: ProcessRecord<C>): void {
    const waiters = rec.waiters;
    rec.waiters = undefined;
    if (waiters) for (const w of waiters) w.resolve();
  }

  private rejectWaiters(rec: ProcessRecord<C>, err: unknown): void {
    const waiters = rec.waiters;
    rec.waiters = undefined;
    if (waiters) for (const w of waiters) w.reject(err);
  }

  private clampGrace(ms: number): number {
    return Math.max(ms, this.s.minGracePeriodMs);
  }

  // ---- observability ----------------------------------------------------------------------

  private emitPhase(rec: ProcessRecord<C>, from: Phase | undefined): void {
    if (this.s.onEvent) this.emit({ type: 'phase', id: rec.id, from, to: phaseOf(rec), at: this.clock.now() });
  }

  private emit(event: ManagerEvent): void {
    const listener = this.s.onEvent;
    if (!listener) return;
    try {
      listener(event);
    } catch (err) {
      this.log.warn({ err: describe(err), event: event.type }, 'onEvent listener threw; ignored');
    }
  }
}
