import { InvalidArgumentError } from '../../util/index.js';

/** Which output of the process a line came from. */
export type StreamName = 'stdout' | 'stderr';

/** One captured line. `seq` increases by one per line of its capture, across restarts. */
export interface LogLine {
  readonly seq: number;
  /** Clock time the line was read (ms). */
  readonly at: number;
  readonly stream: StreamName;
  readonly line: string;
}

/**
 * The most recent lines of one process, bounded by count and by bytes. Each line gets a sequence
 * number (1, 2, …, never reused, also counted when it is not kept) so a follower can resume with
 * `since(seq)`. Single owner; not for concurrent writers.
 *
 * The fields are kept in parallel arrays and a `LogLine` is built only when read. One object per
 * buffered line would live long enough for V8 to pretenure their allocation site under a burst:
 * every later line's object then went straight to the old generation and kept its text alive past
 * the scavenges, so RSS grew by about the whole burst; with the arrays it barely moves.
 */
export class LineRing {
  // Filled in order as lines come (positions are written cyclically), so an unused capacity costs nothing.
  private readonly texts: (string | undefined)[] = [];
  private readonly ats: number[] = [];
  private readonly streams: StreamName[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  private count = 0;
  private seq = 0;
  private heldBytes = 0;

  /**
   * @param capacity lines kept at most (an integer ≥ 0).
   * @param maxBytes bytes of text kept at most; a line larger than this is counted but not kept. Default: no limit.
   */
  constructor(
    readonly capacity: number,
    readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new InvalidArgumentError('ring buffer capacity must be an integer ≥ 0', { capacity });
    if (Number.isNaN(maxBytes) || maxBytes < 0) throw new InvalidArgumentError('ring buffer maxBytes must be ≥ 0', { maxBytes });
  }

  /** The sequence number the next `push` will get. */
  get nextSeq(): number {
    return this.seq + 1;
  }

  /** Lines held now (at most `capacity`). */
  get size(): number {
    return this.count;
  }

  /** Bytes of the lines held now (at most `maxBytes`). */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Appends a line of `bytes` bytes, dropping the oldest to stay within both bounds; returns its sequence number. */
  push(stream: StreamName, at: number, text: string, bytes: number): number {
    this.seq += 1;
    if (bytes > this.maxBytes) {
      // Kept, it would push out everything else and still be too big; the lines held stay
      // contiguous in seq, and the seq says it was there.
      this.clear();
      return this.seq;
    }
    if (this.capacity === 0) return this.seq;
    if (this.count === this.capacity) this.dropOldest();
    while (this.heldBytes + bytes > this.maxBytes) this.dropOldest();
    const i = (this.head + this.count) % this.capacity;
    this.texts[i] = text;
    this.ats[i] = at;
    this.streams[i] = stream;
    this.sizes[i] = bytes;
    this.heldBytes += bytes;
    this.count += 1;
    return this.seq;
  }

  /** All lines held, oldest first. */
  toArray(): LogLine[] {
    return this.slice(0);
  }

  /** The newest `n` lines, oldest first. */
  tail(n: number): LogLine[] {
    return this.slice(Math.max(0, this.count - Math.max(0, Math.floor(n))));
  }

  /** Lines pushed after sequence number `seq`, oldest first (those still held). */
  since(seq: number): LogLine[] {
    return this.slice(Math.max(0, Math.floor(seq) + 1 - this.firstSeq()));
  }

  /** Drops every line; sequence numbers keep counting. */
  clear(): void {
    this.texts.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.heldBytes = 0;
  }

  private firstSeq(): number {
    return this.seq - this.count + 1;
  }

  private dropOldest(): void {
    this.heldBytes -= this.sizes[this.head] ?? 0;
    this.texts[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count -= 1;
  }

  private slice(from: number): LogLine[] {
    const out: LogLine[] = [];
    const first = this.firstSeq();
    for (let k = from; k < this.count; k++) {
      const i = (this.head + k) % this.capacity;
      out.push({ seq: first + k, at: this.ats[i] ?? 0, stream: this.streams[i] ?? 'stdout', line: this.texts[i] ?? '' });
    }
    return out;
  }
}
