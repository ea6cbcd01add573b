import { InvalidArgumentError } from '../../util/index.js';

/**
 * A fixed-capacity buffer of the most recent entries. Each entry gets a sequence number (1, 2, …,
 * never reused, also counted when capacity is 0) so a follower can resume with `since(seq)`.
 * Single owner; not for concurrent writers.
 */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private count = 0;
  private seq = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new InvalidArgumentError('ring buffer capacity must be an integer ≥ 0', { capacity });
    this.items = new Array<T | undefined>(capacity);
  }

  /** The sequence number the next `push` will get. */
  get nextSeq(): number {
    return this.seq + 1;
  }

  /** Entries held now (at most `capacity`). */
  get size(): number {
    return this.count;
  }

  /** Appends `value`, dropping the oldest entry when full; returns the value's sequence number. */
  push(value: T): number {
    this.seq += 1;
    if (this.capacity === 0) return this.seq;
    this.items[(this.head + this.count) % this.capacity] = value;
    if (this.count < this.capacity) this.count += 1;
    else this.head = (this.head + 1) % this.capacity;
    return this.seq;
  }

  /** All entries, oldest first. */
  toArray(): T[] {
    return this.slice(0);
  }

  /** The newest `n` entries, oldest first. */
  tail(n: number): T[] {
    return this.slice(Math.max(0, this.count - Math.max(0, Math.floor(n))));
  }

  /** Entries pushed after sequence number `seq`, oldest first (those still held). */
  since(seq: number): T[] {
    const firstSeq = this.seq - this.count + 1;
    return this.slice(Math.max(0, Math.floor(seq) + 1 - firstSeq));
  }

  /** Drops every entry; sequence numbers keep counting. */
  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
  }

  private slice(from: number): T[] {
    const out: T[] = [];
    for (let i = from; i < this.count; i++) out.push(this.items[(this.head + i) % this.capacity] as T);
    return out;
  }
}
