import type { Clock } from '../../src/util/index.js';
import type { Hook, ProcessSyncer, SyncContext, SyncResult, TerminatingContext } from '../../src/core/index.js';

/** One recorded syncer call. */
export interface Call<C> {
  readonly hook: Hook;
  readonly id: string;
  readonly updateType: string;
  readonly config: C;
  readonly attempt: number;
  readonly gracePeriodMs: number | undefined;
  readonly evict: boolean | undefined;
  readonly at: number;
  readonly signal: AbortSignal;
  settledAt?: number;
}

type Behaviour<C> = (ctx: SyncContext<C> & Partial<TerminatingContext<C>>, hook: Hook) => unknown;

/**
 * A hand-written recording fake of the ProcessSyncer port. Each hook's behaviour is replaceable;
 * it records every call and checks the engine's promise of at most one call in flight per id.
 */
export class RecordingSyncer<C> implements ProcessSyncer<C> {
  readonly calls: Call<C>[] = [];
  readonly overlaps: string[] = [];
  readonly #active = new Map<string, number>();
  readonly #clock: Clock;
  behaviour: Partial<Record<Hook, Behaviour<C>>> = {};

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  on(hook: Hook, fn: Behaviour<C>): this {
    this.behaviour[hook] = fn;
    return this;
  }

  syncProcess(ctx: SyncContext<C>): Promise<SyncResult | undefined> {
    return this.#run('syncProcess', ctx) as Promise<SyncResult | undefined>;
  }

  syncTerminating(ctx: TerminatingContext<C>): Promise<void> {
    return this.#run('syncTerminating', ctx) as Promise<void>;
  }

  syncTerminated(ctx: SyncContext<C>): Promise<void> {
    return this.#run('syncTerminated', ctx) as Promise<void>;
  }

  /** Calls of one id (and optionally one hook). */
  of(id: string, hook?: Hook): Call<C>[] {
    return this.calls.filter((c) => c.id === id && (hook === undefined || c.hook === hook));
  }

  hooks(id: string): Hook[] {
    return this.of(id).map((c) => c.hook);
  }

  #run(hook: Hook, ctx: SyncContext<C> & Partial<TerminatingContext<C>>): Promise<unknown> {
    const call: Call<C> = {
      hook,
      id: ctx.id,
      updateType: ctx.updateType,
      config: ctx.config,
      attempt: ctx.attempt,
      gracePeriodMs: ctx.gracePeriodMs,
      evict: ctx.evict,
      at: this.#clock.now(),
      signal: ctx.signal,
    };
    this.calls.push(call);
    const n = (this.#active.get(ctx.id) ?? 0) + 1;
    this.#active.set(ctx.id, n);
    if (n > 1) this.overlaps.push(ctx.id);
    const done = (): void => {
      call.settledAt = this.#clock.now();
      this.#active.set(ctx.id, (this.#active.get(ctx.id) ?? 1) - 1);
    };
    const fn = this.behaviour[hook];
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(fn ? fn(ctx, hook) : undefined);
    } catch (err) {
      p = Promise.reject(err);
    }
    return p.finally(done);
  }
}

/** A promise that rejects with the signal's reason when it aborts, and otherwise never settles. */
export function hangUntilAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

/** An externally settled promise. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
