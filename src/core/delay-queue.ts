import { Heap } from 'heap-js';

/**
 * A keyed delay queue: each key is waiting at most once, with the earliest ready time it was
 * given (client-go's rule: a waiting key's ready time only moves earlier, unless `set`).
 *
 * Layout: the heap-js min-heap holds small-integer slot numbers; each slot's ready time and
 * insertion sequence live in Float64Arrays and its key in an array, so a waiting key costs no
 * object of its own and comparisons read flat arrays. Against a plain Map + heap of entry objects
 * this pays rent on the engine bench's retained heap per process at 100 000 processes (issue
 * #17 has the comparison). A map from key to slot makes de-duplication O(1). A
 * superseded or deleted slot is marked dead (its key cleared) and is dropped when it surfaces;
 * the heap is rebuilt if dead slots ever outnumber live ones.
 *
 * Pure data: it never reads a clock; callers pass `now`.
 */
export class DelayQueue<K> {
  #readyAts = new Float64Array(64);
  #seqs = new Float64Array(64);
  readonly #keys: (K | undefined)[] = [];
  readonly #freeSlots: number[] = [];
  #nextSlot = 0;
  #seq = 0;
  // key → slot. Popping leaves the entry behind instead of paying a map delete per pop; an
  // entry counts only while its slot still holds that key.
  #slots = new Map<K, number>();
  #count = 0;
  // Ties in ready time pop in insertion order.
  readonly #heap = new Heap<number>((a, b) => this.#readyAts[a]! - this.#readyAts[b]! || this.#seqs[a]! - this.#seqs[b]!);

  /** Keys waiting. */
  get size(): number {
    return this.#count;
  }

  /**
   * Makes `key` ready at `readyAt` unless it is already waiting for an earlier time.
   * Returns true when the key's ready time changed.
   */
  add(key: K, readyAt: number): boolean {
    const current = this.#slotOf(key);
    if (current !== undefined && this.#readyAts[current]! <= readyAt) return false;
    this.#insert(key, readyAt, current);
    return true;
  }

  /** Sets `key`'s ready time, earlier or later. */
  set(key: K, readyAt: number): void {
    const current = this.#slotOf(key);
    if (current !== undefined && this.#readyAts[current] === readyAt) return;
    this.#insert(key, readyAt, current);
  }

  /** Stops `key` waiting; true if it was. */
  delete(key: K): boolean {
    const slot = this.#slotOf(key);
    if (slot === undefined) return false;
    this.#keys[slot] = undefined;
    this.#slots.delete(key);
    this.#count--;
    this.#compactIfSparse();
    return true;
  }

  has(key: K): boolean {
    return this.#slotOf(key) !== undefined;
  }

  /** When `key` becomes ready, if it is waiting. */
  readyAt(key: K): number | undefined {
    const slot = this.#slotOf(key);
    return slot === undefined ? undefined : this.#readyAts[slot];
  }

  /** The earliest ready time of any waiting key. */
  peekReadyAt(): number | undefined {
    const slot = this.#head();
    return slot === undefined ? undefined : this.#readyAts[slot];
  }

  /** Removes and returns the earliest key if it is ready at `now`. */
  pop(now: number): K | undefined {
    const slot = this.#head();
    if (slot === undefined || this.#readyAts[slot]! > now) return undefined;
    this.#heap.pop();
    const key = this.#keys[slot] as K;
    this.#release(slot);
    this.#count--;
    if (this.#slots.size > 4 * this.#count + 1024) this.#pruneSlots();
    return key;
  }

  clear(): void {
    this.#heap.clear();
    this.#slots.clear();
    this.#count = 0;
    this.#keys.length = 0;
    this.#freeSlots.length = 0;
    this.#nextSlot = 0;
  }

  #insert(key: K, readyAt: number, previous: number | undefined): void {
    if (previous !== undefined) this.#keys[previous] = undefined; // dead; freed when it surfaces
    else this.#count++;
    const slot = this.#allocate();
    this.#readyAts[slot] = readyAt;
    this.#seqs[slot] = this.#seq++;
    this.#keys[slot] = key;
    this.#slots.set(key, slot);
    this.#heap.add(slot);
    if (previous !== undefined) this.#compactIfSparse();
  }

  // The live head slot, dropping dead slots on the way.
  #head(): number | undefined {
    for (let top = this.#heap.peek(); top !== undefined; top = this.#heap.peek()) {
      if (this.#keys[top] !== undefined) return top;
      this.#heap.pop();
      this.#release(top);
    }
    return undefined;
  }

  #allocate(): number {
    const reused = this.#freeSlots.pop();
    if (reused !== undefined) return reused;
    if (this.#nextSlot === this.#readyAts.length) {
      this.#readyAts = grow(this.#readyAts);
      this.#seqs = grow(this.#seqs);
    }
    return this.#nextSlot++;
  }

  #release(slot: number): void {
    this.#keys[slot] = undefined;
    this.#freeSlots.push(slot);
  }

  #compactIfSparse(): void {
    const dead = this.#heap.length - this.#count;
    if (dead <= 1024 || dead <= this.#count) return;
    const live: number[] = [];
    for (const slot of this.#heap.toArray()) {
      if (this.#keys[slot] === undefined) this.#freeSlots.push(slot);
      else live.push(slot);
    }
    this.#heap.init(live);
  }

  // The slot `key` waits in, if any: a map entry left behind by a pop points at a slot that is
  // free or holds another key by now.
  #slotOf(key: K): number | undefined {
    const slot = this.#slots.get(key);
    return slot !== undefined && this.#keys[slot] === key ? slot : undefined;
  }

  // Rebuilt from the live slots (O(live)) rather than deleting the stale entries one by one.
  #pruneSlots(): void {
    const slots = new Map<K, number>();
    for (const slot of this.#heap.toArray()) {
      const key = this.#keys[slot];
      if (key !== undefined) slots.set(key, slot);
    }
    this.#slots = slots;
  }
}

function grow(a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const bigger = new Float64Array(a.length * 2);
  bigger.set(a);
  return bigger;
}
