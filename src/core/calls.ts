import { SyncTimeoutError, abortError, describe, type Clock, type Logger, type TimerHandle } from '../util/index.js';
import type { AbortCause, ActiveCall, ProcessRecord } from './record.js';
import { TimerQueue } from './timer-queue.js';
import type { Hook } from './types.js';

/** How a call's answer (or its abandonment) reaches the engine. */
export type SettleFn<C> = (rec: ProcessRecord<C>, call: ActiveCall, ok: boolean, value: unknown) => void;

/** What `Calls` needs from its owner. */
export interface CallsOptions<C> {
  readonly clock: Clock;
  readonly abortGraceMs: number;
  readonly logger: Logger;
  /** Runs engine code from a timer or promise callback, failing the engine on a throw. */
  readonly guard: (fn: () => void) => void;
  readonly settle: SettleFn<C>;
}

/**
 * The mechanics of one syncer call per process: its AbortController, its deadline, and what
 * happens when it overstays. A call past its deadline is aborted; a call that then ignores its
 * abort for `abortGraceMs` is abandoned (settled as failed), so nothing waits on it forever,
 * and its late answer is dropped by the engine's token check.
 *
 * Deadlines are armed lazily: most calls settle within the turn they start in, so a call gets a
 * deadline-queue entry only if it is still running when a zero-delay timer fires after it.
 *
 * Internal: owned by the Engine, which is the only caller.
 */
export class Calls<C> {
  private readonly deadlines: TimerQueue<ProcessRecord<C>>;
  private unarmed: ProcessRecord<C>[] = [];
  private armTimer: TimerHandle | undefined;
  private nextToken = 0;
  private readonly armBound = (): void => this.o.guard(() => this.armDeadlines());

  constructor(private readonly o: CallsOptions<C>) {
    this.deadlines = new TimerQueue(o.clock, (rec) => o.guard(() => this.onDeadline(rec)));
  }

  /** Makes `invoke` the one call in flight for `rec`; its outcome goes to `settle`. */
  start(rec: ProcessRecord<C>, hook: Hook, timeoutMs: number, invoke: (signal: AbortSignal) => unknown): void {
    const now = this.o.clock.now();
    const call: ActiveCall = {
      token: ++this.nextToken,
      hook,
      controller: new AbortController(),
      startedAt: now,
      deadlineAt: now + timeoutMs,
      deadlineArmed: false,
      abortedFor: undefined,
    };
    rec.call = call;
    this.unarmed.push(rec);
    this.armTimer ??= this.o.clock.setTimer(this.armBound, 0);
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(invoke(call.controller.signal));
    } catch (err) {
      result = Promise.reject(err); // a syncer that throws synchronously is a failed call, not our crash
    }
    result.then(
      (value) => this.o.guard(() => this.o.settle(rec, call, true, value)),
      (err: unknown) => this.o.guard(() => this.o.settle(rec, call, false, err)),
    );
  }

  /** Bookkeeping once `call` is settled, by its own answer or by abandonment. */
  done(rec: ProcessRecord<C>, call: ActiveCall): void {
    if (call.deadlineArmed) this.deadlines.delete(rec);
  }

  /** Aborts `call` and gives it `abortGraceMs` to settle before it is abandoned. */
  abort(rec: ProcessRecord<C>, call: ActiveCall, cause: AbortCause, reason?: unknown): void {
    if (call.abortedFor !== undefined) {
      // Already aborted (say, by a timeout): a supersede still means "rerun now, no backoff".
      if (cause === 'superseded') call.abortedFor = cause;
      return;
    }
    call.deadlineArmed = true;
    // `set`, not `add`: the grace runs from the abort, even past the call's own deadline.
    this.deadlines.set(rec, this.o.abortGraceMs);
    this.signal(rec, call, cause, reason ?? abortError(`${call.hook} for "${rec.id}" was superseded by a newer update`));
  }

  /** Aborts `call` for good (forced shutdown, engine failure); nobody waits for its answer. */
  abandon(rec: ProcessRecord<C>, call: ActiveCall, reason: unknown): void {
    this.signal(rec, call, 'shutdown', reason);
  }

  /** Drops every deadline and the arming timer. */
  clear(): void {
    this.deadlines.clear();
    this.armTimer?.cancel();
    this.armTimer = undefined;
    this.unarmed = [];
  }

  private signal(rec: ProcessRecord<C>, call: ActiveCall, cause: AbortCause, reason: unknown): void {
    call.abortedFor ??= cause;
    try {
      call.controller.abort(reason);
    } catch (err) {
      // An abort listener is syncer code; its throw must not break the engine's bookkeeping.
      this.o.logger.warn({ process: rec.id, err: describe(err) }, 'an abort listener threw');
    }
  }

  private armDeadlines(): void {
    this.armTimer = undefined;
    const recs = this.unarmed;
    this.unarmed = [];
    const now = this.o.clock.now();
    for (const rec of recs) {
      const call = rec.call;
      if (!call || call.deadlineArmed) continue; // settled already, or listed twice
      call.deadlineArmed = true;
      this.deadlines.add(rec, call.deadlineAt - now);
    }
  }

  private onDeadline(rec: ProcessRecord<C>): void {
    const call = rec.call;
    if (!call) return;
    if (call.abortedFor === undefined) {
      const err = new SyncTimeoutError(`${call.hook} for "${rec.id}" exceeded its deadline`, { id: rec.id, hook: call.hook });
      this.abort(rec, call, 'timeout', err);
      return;
    }
    this.o.logger.warn({ process: rec.id, hook: call.hook, abortedFor: call.abortedFor }, 'syncer ignored its abort signal; abandoning the call');
    const err = new SyncTimeoutError(`${call.hook} for "${rec.id}" ignored its abort signal for ${this.o.abortGraceMs} ms`, { id: rec.id });
    this.o.settle(rec, call, false, call.abortedFor === 'superseded' ? call.controller.signal.reason : err);
  }
}
