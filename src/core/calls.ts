import { SyncTimeoutError, abortError, describe } from '../util/index.js';
import type { AbortCause, ActiveCall, ProcessRecord } from './record.js';
import type { Settings } from './settings.js';
import { Deadlines } from './deadlines.js';
import type { Hook } from './types.js';

/** How a call's answer (or its abandonment) reaches the engine. */
export type SettleFn<C> = (rec: ProcessRecord<C>, call: ActiveCall, ok: boolean, value: unknown) => void;

/** What `Calls` needs from its owner. */
export interface CallsOptions<C> {
  readonly settings: Settings<C>;
  /** Runs engine code from a timer or promise callback, failing the engine on a throw. */
  readonly guard: (fn: () => void) => void;
  readonly settle: SettleFn<C>;
}

/**
 * The mechanics of one syncer call per process: its context, its AbortController, its deadline
 * (`callTimeoutMs`, or for `syncTerminating` the grace period plus `terminatingSlackMs`), and what
 * happens when it overstays. Each call has exactly one armed deadline from the moment it
 * starts: its own, replaced by the abort grace when it is aborted. A call
 * past its deadline is aborted; a call that then ignores its abort for `abortGraceMs` is
 * abandoned (settled as failed), so nothing waits on it forever, and its late answer is dropped
 * because the engine only accepts the answer of the call it holds.
 *
 * Internal: owned by the Engine, which is the only caller.
 */
export class Calls<C> {
  readonly #o: CallsOptions<C>;
  readonly #s: Settings<C>;
  readonly #deadlines: Deadlines<ProcessRecord<C>>;

  constructor(o: CallsOptions<C>) {
    this.#o = o;
    this.#s = o.settings;
    this.#deadlines = new Deadlines(o.settings.clock, (rec) => o.guard(() => this.#onDeadline(rec)));
  }

  /** Makes a call of `hook` the one call in flight for `rec`; its outcome goes to `settle`. */
  start(rec: ProcessRecord<C>, hook: Hook): void {
    const s = this.#s;
    const timeoutMs = hook === 'syncTerminating' ? (rec.gracePeriodMs ?? 0) + s.terminatingSlackMs : s.callTimeoutMs;
    const now = s.clock.now();
    const call: ActiveCall = { hook, controller: new AbortController(), startedAt: now, abortedFor: undefined, deadline: undefined };
    call.deadline = this.#deadlines.add(rec, timeoutMs, now);
    rec.call = call;
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(this.#invoke(rec, hook, call.controller.signal));
    } catch (err) {
      result = Promise.reject(err); // a syncer that throws synchronously is a failed call, not our crash
    }
    result.then(
      (value) => this.#o.guard(() => this.#o.settle(rec, call, true, value)),
      (err: unknown) => this.#o.guard(() => this.#o.settle(rec, call, false, err)),
    );
  }

  /** Bookkeeping once `call` is settled, by its own answer or by abandonment. */
  done(call: ActiveCall): void {
    this.#disarm(call);
  }

  /** Aborts `call` and gives it `abortGraceMs` from now to settle before it is abandoned. */
  abort(rec: ProcessRecord<C>, call: ActiveCall, cause: AbortCause, reason?: unknown): void {
    if (call.abortedFor !== undefined) {
      // Already aborted (say, by a timeout): a supersede still means "rerun now, no backoff".
      if (cause === 'superseded') call.abortedFor = cause;
      return;
    }
    // The grace replaces the call's deadline, even when it ends later.
    this.#disarm(call);
    call.deadline = this.#deadlines.add(rec, this.#s.abortGraceMs);
    this.#signal(rec, call, cause, reason ?? abortError(`${call.hook} for "${rec.id}" was superseded by a newer update`));
  }

  /** Aborts `call` for good (forced shutdown, engine failure); nobody waits for its answer. */
  abandon(rec: ProcessRecord<C>, call: ActiveCall, reason: unknown): void {
    this.#disarm(call);
    this.#signal(rec, call, 'shutdown', reason);
  }

  /** Drops every deadline and its timer. */
  clear(): void {
    this.#deadlines.clear();
  }

  #invoke(rec: ProcessRecord<C>, hook: Hook, signal: AbortSignal): Promise<unknown> {
    // Every hook-running record was created with a config; only B9 records lack one, and they never get here.
    const base = { id: rec.id, signal, updateType: rec.updateType, config: rec.config as C, attempt: rec.errorCount };
    const syncer = this.#s.syncer;
    switch (hook) {
      case 'syncProcess':
        return syncer.syncProcess(base);
      case 'syncTerminating':
        return syncer.syncTerminating({ ...base, gracePeriodMs: rec.gracePeriodMs ?? this.#s.minGracePeriodMs, evict: rec.evict });
      case 'syncTerminated':
        return syncer.syncTerminated(base);
    }
  }

  #disarm(call: ActiveCall): void {
    if (call.deadline) this.#deadlines.cancel(call.deadline);
    call.deadline = undefined;
  }

  #signal(rec: ProcessRecord<C>, call: ActiveCall, cause: AbortCause, reason: unknown): void {
    call.abortedFor ??= cause;
    try {
      call.controller.abort(reason);
    } catch (err) {
      // An abort listener is syncer code; its throw must not break the engine's bookkeeping.
      this.#s.logger.warn({ process: rec.id, err: describe(err) }, 'an abort listener threw');
    }
  }

  #onDeadline(rec: ProcessRecord<C>): void {
    const call = rec.call;
    if (!call) return;
    if (call.abortedFor === undefined) {
      const err = new SyncTimeoutError(`${call.hook} for "${rec.id}" exceeded its deadline`, { id: rec.id, hook: call.hook });
      this.abort(rec, call, 'timeout', err);
      return;
    }
    this.#s.logger.warn({ process: rec.id, hook: call.hook, abortedFor: call.abortedFor }, 'syncer ignored its abort signal; abandoning the call');
    const err = new SyncTimeoutError(`${call.hook} for "${rec.id}" ignored its abort signal for ${this.#s.abortGraceMs} ms`, { id: rec.id });
    this.#o.settle(rec, call, false, call.abortedFor === 'superseded' ? call.controller.signal.reason : err);
  }
}
