import type { Clock, TimerHandle } from './clock.js';

interface FakeTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A deterministic clock for tests and simulations. Time moves only through `advance`/`tick`.
 * Timers due at the same instant fire in the order they were set.
 */
export class FakeClock implements Clock {
  #current: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.#current = startMs;
  }

  now(): number {
    return this.#current;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer: FakeTimer = { at: this.#current + Math.max(0, delayMs), seq: this.#seq++, callback, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Timers set and neither fired nor cancelled. */
  pendingTimers(): number {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    return this.#timers.length;
  }

  /** When the next live timer is due, or undefined when none is. */
  nextTimerAt(): number | undefined {
    const next = this.#nextDue(Number.POSITIVE_INFINITY);
    return next?.at;
  }

  /** Moves time forward by `ms`, firing due timers synchronously in order. Promise callbacks do not run. */
  advance(ms: number): void {
    const end = this.#current + ms;
    for (let t = this.#nextDue(end); t; t = this.#nextDue(end)) this.#fire(t);
    this.#current = end;
  }

  /**
   * Moves time forward by `ms`, firing each due timer in order and letting all promise
   * callbacks settle after each one, so async code under test sees time pass as it would.
   */
  async tick(ms: number): Promise<void> {
    const end = this.#current + ms;
    await flushMicrotasks();
    for (let t = this.#nextDue(end); t; t = this.#nextDue(end)) {
      this.#fire(t);
      await flushMicrotasks();
    }
    this.#current = end;
  }

  /** Fires everything due now, letting promise callbacks settle. */
  async settle(): Promise<void> {
    await this.tick(0);
  }

  /** Keeps ticking to the next timer until none is due within `maxMs`; returns the time advanced. */
  async runAll(maxMs: number): Promise<number> {
    const start = this.#current;
    for (let at = this.nextTimerAt(); at !== undefined && at - start <= maxMs; at = this.nextTimerAt()) {
      await this.tick(at - this.#current);
    }
    return this.#current - start;
  }

  #nextDue(end: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (t.cancelled || t.at > end) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }

  #fire(t: FakeTimer): void {
    t.cancelled = true;
    this.#timers = this.#timers.filter((x) => x !== t);
    this.#current = Math.max(this.#current, t.at);
    t.callback();
  }
}

/** Lets every queued promise callback run (the microtask queue drains before the next macrotask). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
