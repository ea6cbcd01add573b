import { Heap } from 'heap-js';

interface Entry<K> {
  readonly key: K;
  readonly readyAt: number;
  readonly seq: number;
}

const byReadyTime = <K>(a: Entry<K>, b: Entry<K>): number => a.readyAt - b.readyAt || a.seq - b.seq;

/**
 * A keyed delay queue: each key is waiting at most once, with the earliest ready time it was
 * given (client-go's rule: a waiting key's ready time only moves earlier). A min-heap orders the
 * entries; a map makes de-duplication O(1). Superseded heap entries are dropped lazily when they
 * surface, and the heap is rebuilt if they ever outnumber the live ones.
 *
 * Pure data: it never reads a clock; callers pass `now`.
 */
export class DelayQueue<K> {
  private readonly heap = new Heap<Entry<K>>(byReadyTime);
  private readonly live = new Map<K, Entry<K>>();
  private seq = 0;

  /** Keys waiting. */
  get size(): number {
    return this.live.size;
  }

  /**
   * Makes `key` ready at `readyAt` unless it is already waiting for an earlier time.
   * Returns true when the key's ready time changed.
   */
  add(key: K, readyAt: number): boolean {
    const current = this.live.get(key);
    if (current && current.readyAt <= readyAt) return false;
    this.insert(key, readyAt);
    return true;
  }

  /** Sets `key`'s ready time, earlier or later. */
  set(key: K, readyAt: number): void {
    const current = this.live.get(key);
    if (current?.readyAt === readyAt) return;
    this.insert(key, readyAt);
  }

  /** Stops `key` waiting; true if it was. */
  delete(key: K): boolean {
    const had = this.live.delete(key);
    if (had) this.compactIfSparse();
    return had;
  }

  has(key: K): boolean {
    return this.live.has(key);
  }

  /** When `key` becomes ready, if it is waiting. */
  readyAt(key: K): number | undefined {
    return this.live.get(key)?.readyAt;
  }

  /** The earliest ready time of any waiting key. */
  peekReadyAt(): number | undefined {
    return this.head()?.readyAt;
  }

  /** Removes and returns the earliest key if it is ready at `now`. */
  pop(now: number): K | undefined {
    const head = this.head();
    if (!head || head.readyAt > now) return undefined;
    this.heap.pop();
    this.live.delete(head.key);
    return head.key;
  }

  clear(): void {
    this.heap.clear();
    this.live.clear();
  }

  private insert(key: K, readyAt: number): void {
    const entry: Entry<K> = { key, readyAt, seq: this.seq++ };
    this.live.set(key, entry);
    this.heap.add(entry);
    this.compactIfSparse();
  }

  // The live head, discarding superseded or deleted entries on the way.
  private head(): Entry<K> | undefined {
    for (let top = this.heap.peek(); top; top = this.heap.peek()) {
      if (this.live.get(top.key) === top) return top;
      this.heap.pop();
    }
    return undefined;
  }

  private compactIfSparse(): void {
    const stale = this.heap.length - this.live.size;
    if (stale > 1024 && stale > this.live.size) this.heap.init([...this.live.values()]);
  }
}
