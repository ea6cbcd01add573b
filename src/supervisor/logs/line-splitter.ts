/** Options of `LineSplitter`. */
export interface LineSplitterOptions {
  /** A longer line is emitted in pieces of at most this many bytes (at least 4). Default 16 KiB. */
  readonly maxLineBytes?: number;
}

/** The default cap on one line, so a process that never prints a newline cannot grow our memory. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;

/** Receives one line: its text (without the terminator) and its length in bytes as the process wrote them. */
export type LineSink = (text: string, bytes: number) => void;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Cuts a byte stream into UTF-8 lines. Handles `\n` and `\r\n`, characters split across chunks,
 * and over-long lines (emitted in pieces cut at character boundaries, counted in `cuts`).
 * One per stream; the owner calls `push` for each chunk and `flush` once at the end.
 *
 * It cuts bytes, then decodes each line on its own (a `\n` byte is never part of a multi-byte
 * character): every line is a string of its own, where slicing one decoded chunk would give
 * strings that keep the whole chunk alive for as long as any of its lines is buffered.
 */
export class LineSplitter {
  private readonly maxLineBytes: number;
  /** The start of the current line (copies, at most `maxLineBytes` + one chunk). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private cutCount = 0;

  constructor(options: LineSplitterOptions = {}) {
    this.maxLineBytes = Math.max(4, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  }

  /** Cuts made in over-long lines so far: a line of 40 KiB with a 16 KiB cap is cut twice (three pieces). */
  get cuts(): number {
    return this.cutCount;
  }

  /** Feeds one chunk; `emit` gets each line it completes (and each piece of an over-long one). */
  push(chunk: Buffer, emit: LineSink): void {
    let start = 0;
    for (let nl = chunk.indexOf(LF); nl >= 0; nl = chunk.indexOf(LF, start)) {
      if (this.pendingBytes === 0 && nl - start <= this.maxLineBytes + 1) {
        // The common case: a whole line inside this chunk.
        const end = nl > start && chunk[nl - 1] === CR ? nl - 1 : nl;
        if (end - start <= this.maxLineBytes) {
          emit(chunk.toString('utf8', start, end), end - start);
          start = nl + 1;
          continue;
        }
      }
      this.append(chunk.subarray(start, nl), emit);
      this.emitPending(emit);
      start = nl + 1;
    }
    if (start < chunk.length) this.append(chunk.subarray(start), emit);
  }

  /** Ends the stream: emits the partial last line (if any) and resets. */
  flush(emit: LineSink): void {
    if (this.pendingBytes > 0) this.emitPending(emit);
  }

  private emitPending(emit: LineSink): void {
    const line = this.take();
    const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
    emit(line.toString('utf8', 0, end), end);
  }

  private take(): Buffer {
    const line = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return line;
  }

  private append(segment: Buffer, emit: LineSink): void {
    if (segment.length === 0) return;
    // A copy: a view would keep the whole chunk alive while the line waits for its end.
    this.pending.push(Buffer.from(segment));
    this.pendingBytes += segment.length;
    // A trailing '\r' may be half of a "\r\n" still to come, so it does not count towards the cap.
    if (this.pendingBytes - (segment[segment.length - 1] === CR ? 1 : 0) <= this.maxLineBytes) return;
    let rest = this.take();
    while (rest.length - (rest[rest.length - 1] === CR ? 1 : 0) > this.maxLineBytes) {
      // Never cut inside a character: back up over (at most three) UTF-8 continuation bytes.
      let at = this.maxLineBytes;
      while (at > this.maxLineBytes - 3 && ((rest[at] ?? 0) & 0xc0) === 0x80) at--;
      if (((rest[at] ?? 0) & 0xc0) === 0x80) at = this.maxLineBytes; // not UTF-8 anyway
      emit(rest.toString('utf8', 0, at), at);
      this.cutCount++;
      rest = rest.subarray(at);
    }
    this.pending = [Buffer.from(rest)];
    this.pendingBytes = rest.length;
  }
}
