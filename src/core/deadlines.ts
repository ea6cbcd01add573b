import type { Clock, TimerHandle } from '../util/index.js';

/** One armed deadline, as `add` hands it out; pass it to `cancel` to disarm it. */
export interface Deadline<T> {
  readonly item: T;
  readonly at: number;
  /** Still armed: neither cancelled nor fired. */
  live: boolean;
}

/** Deadlines of one delay, oldest first; entries before `head` are gone. */
interface Lane<T> {
  entries: Deadline<T>[];
  head: number;
}

/**
 * Deadlines behind one clock timer, armed for the earliest. Deadlines of the same delay come due
 * in the order they were added, so each distinct delay (the call timeout, the abort grace, a few
 * grace periods) keeps a plain FIFO lane: adding is a push, and the next due deadline is at the
 * head of one of the few lanes. Nearly every deadline is cancelled long before it is due, so a
 * cancel only marks its entry: dead entries are skipped when they reach the head, the lanes are
 * compacted when an add finds dead entries outnumbering live ones (so they hold at most about
 * twice the most deadlines ever armed at once), and everything is dropped (timer included)
 * whenever no deadline is live.
 *
 * Ordering assumes the clock does not step back; if it does, a deadline added after the step
 * waits for the ones ahead of it in its lane, so it comes due at most that step late.
 *
 * Internal: owned by `Calls`, the only caller.
 */
export class Deadlines<T> {
  readonly #clock: Clock;
  readonly #onDue: (item: T) => void;
  readonly #lanes = new Map<number, Lane<T>>();
  #live = 0;
  /** Entries still in some lane past its head, live or dead. */
  #stored = 0;
  #timer: TimerHandle | undefined;
  #armedFor: number | undefined;

  constructor(clock: Clock, onDue: (item: T) => void) {
    this.#clock = clock;
    this.#onDue = onDue;
  }

  /** Deadlines armed. */
  get size(): number {
    return this.#live;
  }

  /**
   * Arms a deadline for `item` `delayMs` after `now` (the clock's, unless the caller just read
   * it); `onDue(item)` runs then unless it is cancelled.
   */
  add(item: T, delayMs: number, now = this.#clock.now()): Deadline<T> {
    // Compacting here rather than on cancel: a batch of calls that all settle ends in the cheap
    // reset instead of compacting on its way down.
    if (this.#stored > 2 * this.#live + 1024) this.#compact();
    const d: Deadline<T> = { item, at: now + delayMs, live: true };
    let lane = this.#lanes.get(delayMs);
    if (!lane) this.#lanes.set(delayMs, (lane = { entries: [], head: 0 }));
    lane.entries.push(d);
    this.#live++;
    this.#stored++;
    if (this.#armedFor === undefined || d.at < this.#armedFor) this.#arm(d.at);
    return d;
  }

  /** Disarms `d`; a no-op if it fired or was cancelled already. */
  cancel(d: Deadline<unknown>): void {
    if (!d.live) return;
    d.live = false;
    // The armed timer may now be early; it re-arms itself when it fires.
    if (--this.#live === 0) this.#reset();
  }

  /** Drops every deadline and the timer. */
  clear(): void {
    for (const lane of this.#lanes.values()) for (let i = lane.head; i < lane.entries.length; i++) lane.entries[i]!.live = false;
    this.#reset();
  }

  // Only once no entry is live, or all were marked dead.
  #reset(): void {
    this.#lanes.clear();
    this.#live = 0;
    this.#stored = 0;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#armedFor = undefined;
  }

  #arm(at: number): void {
    this.#timer?.cancel();
    this.#armedFor = at;
    this.#timer = this.#clock.setTimer(() => this.#fire(), at - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = undefined;
    const now = this.#clock.now();
    // Collected before any callback runs, so a callback that arms a new deadline (an abort's
    // grace) waits for a later firing instead of running in this one.
    const due: Deadline<T>[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [delay, lane] of this.#lanes) {
      const { entries } = lane;
      while (lane.head < entries.length) {
        const d = entries[lane.head]!;
        if (d.live && d.at > now) break;
        lane.head++;
        this.#stored--;
        if (d.live) {
          d.live = false;
          this.#live--;
          due.push(d);
        }
      }
      if (lane.head === entries.length) this.#lanes.delete(delay);
      else {
        next = Math.min(next, entries[lane.head]!.at);
        if (lane.head > entries.length >> 1) {
          lane.entries = entries.slice(lane.head);
          lane.head = 0;
        }
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
    if (due.length > 1) due.sort((a, b) => a.at - b.at); // stable: equal times keep their order
    for (const d of due) this.#onDue(d.item);
  }

  // Rebuilt from the live entries: O(stored), paid only after at least as many cancels.
  #compact(): void {
    for (const [delay, lane] of this.#lanes) {
      const live = lane.entries.slice(lane.head).filter((d) => d.live);
      if (live.length === 0) this.#lanes.delete(delay);
      lane.entries = live;
      lane.head = 0;
    }
    this.#stored = this.#live;
  }
}
