import { waitForTimer, type Clock, type TimerHandle } from '../../util/index.js';

/**
 * One timer per due time, shared by every probe waiting for it. On the coalescing grid the
 * checks of many processes come due at the same instant; with a timer each, Node runs them one
 * callback after another, and each check's connect goes out between them. From one callback
 * they all start in one batch, which costs less CPU per check. Owned by whoever shares it (the
 * supervisor's watchers); a wait cancelled before its time leaves no timer behind once its batch
 * is empty.
 */
export class Ticker {
  readonly #batches = new Map<number, { readonly fns: Set<() => void>; readonly timer: TimerHandle }>();

  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Runs `fn` at clock time `at`, in one callback with everything else due then. */
  at(at: number, fn: () => void): TimerHandle {
    let batch = this.#batches.get(at);
    if (batch === undefined) {
      const fns = new Set<() => void>();
      const timer = this.#clock.setTimer(() => {
        this.#batches.delete(at);
        for (const f of fns) f();
      }, at - this.#clock.now());
      batch = { fns, timer };
      this.#batches.set(at, batch);
    }
    const { fns, timer } = batch;
    fns.add(fn);
    return {
      cancel: () => {
        if (!fns.delete(fn) || fns.size > 0) return;
        timer.cancel();
        if (this.#batches.get(at)?.fns === fns) this.#batches.delete(at);
      },
    };
  }

  /** Resolves at clock time `at` (see `at`), or rejects with `signal.reason` when aborted first. */
  wait(at: number, signal: AbortSignal): Promise<void> {
    return waitForTimer((fire) => this.at(at, fire), signal);
  }

  /** Due times with waiters (for tests). */
  get pending(): number {
    return this.#batches.size;
  }
}
