import type { Clock, TimerHandle } from '../util/index.js';
import { DelayQueue } from './delay-queue.js';

/**
 * A DelayQueue with exactly one clock timer, armed for the head (no polling tick). When keys
 * become ready they are handed to `onReady`, one call per key, in ready-time order.
 */
export class TimerQueue<K> {
  readonly #queue = new DelayQueue<K>();
  readonly #clock: Clock;
  readonly #onReady: (key: K) => void;
  #timer: TimerHandle | undefined;
  #armedFor: number | undefined;

  constructor(clock: Clock, onReady: (key: K) => void) {
    this.#clock = clock;
    this.#onReady = onReady;
  }

  get size(): number {
    return this.#queue.size;
  }

  /** Ready after `delayMs`, unless already due earlier. */
  add(key: K, delayMs: number): void {
    if (this.#queue.add(key, this.#clock.now() + delayMs)) this.#rearm();
  }

  /** Ready after exactly `delayMs`, replacing any earlier or later time. */
  set(key: K, delayMs: number): void {
    this.#queue.set(key, this.#clock.now() + delayMs);
    this.#rearm();
  }

  delete(key: K): void {
    // The armed timer may now be early; it re-arms itself when it fires, which is simpler than
    // cancelling and setting a timer for every delete.
    this.#queue.delete(key);
    if (this.#queue.size === 0) this.#disarm();
  }

  readyAt(key: K): number | undefined {
    return this.#queue.readyAt(key);
  }

  /** Drops every key and the timer. */
  clear(): void {
    this.#queue.clear();
    this.#disarm();
  }

  #rearm(): void {
    const head = this.#queue.peekReadyAt();
    if (head === undefined) return this.#disarm();
    if (this.#armedFor !== undefined && this.#armedFor <= head) return;
    this.#timer?.cancel();
    this.#armedFor = head;
    this.#timer = this.#clock.setTimer(() => this.#fire(), head - this.#clock.now());
  }

  #disarm(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#armedFor = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = undefined;
    const now = this.#clock.now();
    // Keys are popped before onReady runs, so a callback that re-adds its own key waits for the
    // next firing instead of looping here.
    const ready: K[] = [];
    for (let key = this.#queue.pop(now); key !== undefined; key = this.#queue.pop(now)) ready.push(key);
    this.#rearm();
    for (const key of ready) this.#onReady(key);
  }
}
