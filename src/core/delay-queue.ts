import { Heap } from 'heap-js';

interface Entry<K> {
  readonly key: K;
  readonly readyAt: number;
  /** Insertion order, so that ties in ready time pop first in, first out. */
  readonly seq: number;
}

/**
 * A keyed delay queue: each key is waiting at most once, with the earliest ready time it was
 * given (client-go's rule: a waiting key's ready time only moves earlier, unless `set`).
 *
 * A map holds each waiting key's one live entry; a heap orders entries by ready time. A moved
 * or deleted key leaves its old entry in the heap, where it is recognised as stale (the map no
 * longer points at it) and dropped when it surfaces; the heap is rebuilt from the map if stale
 * entries ever outnumber live ones, so memory stays proportional to the keys waiting.
 *
 * Pure data: it never reads a clock; callers pass `now`.
 */
export class DelayQueue<K> {
  readonly #live = new Map<K, Entry<K>>();
  readonly #heap = new Heap<Entry<K>>((a, b) => a.readyAt - b.readyAt || a.seq - b.seq);
  #seq = 0;

  /** Keys waiting. */
  get size(): number {
    return this.#live.size;
  }

  /**
   * Makes `key` ready at `readyAt` unless it is already waiting for an earlier time.
   * Returns true when the key's ready time changed.
   */
  add(key: K, readyAt: number): boolean {
    const current = this.#live.get(key);
    if (current !== undefined && current.readyAt <= readyAt) return false;
    this.#put(key, readyAt);
    return true;
  }

  /** Sets `key`'s ready time, earlier or later. */
  set(key: K, readyAt: number): void {
    if (this.#live.get(key)?.readyAt === readyAt) return;
    this.#put(key, readyAt);
  }

  /** Stops `key` waiting; true if it was. */
  delete(key: K): boolean {
    if (!this.#live.delete(key)) return false;
    this.#compactIfSparse();
    return true;
  }

  has(key: K): boolean {
    return this.#live.has(key);
  }

  /** When `key` becomes ready, if it is waiting. */
  readyAt(key: K): number | undefined {
    return this.#live.get(key)?.readyAt;
  }

  /** The earliest ready time of any waiting key. */
  peekReadyAt(): number | undefined {
    return this.#head()?.readyAt;
  }

  /** Removes and returns the earliest key if it is ready at `now`. */
  pop(now: number): K | undefined {
    const head = this.#head();
    if (head === undefined || head.readyAt > now) return undefined;
    this.#heap.pop();
    this.#live.delete(head.key);
    return head.key;
  }

  clear(): void {
    this.#heap.clear();
    this.#live.clear();
  }

  #put(key: K, readyAt: number): void {
    const entry = { key, readyAt, seq: this.#seq++ };
    this.#live.set(key, entry);
    this.#heap.add(entry);
    this.#compactIfSparse();
  }

  // The live head entry, dropping stale ones on the way.
  #head(): Entry<K> | undefined {
    for (let top = this.#heap.peek(); top !== undefined; top = this.#heap.peek()) {
      if (this.#live.get(top.key) === top) return top;
      this.#heap.pop();
    }
    return undefined;
  }

  #compactIfSparse(): void {
    const live = this.#live.size;
    if (this.#heap.length > 2 * live + 1024) this.#heap.init([...this.#live.values()]);
  }
}
