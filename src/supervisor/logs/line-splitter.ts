import { StringDecoder } from 'node:string_decoder';

/** Options of `LineSplitter`. */
export interface LineSplitterOptions {
  /** A longer line is emitted in pieces of at most this many UTF-8 bytes. Default 16 KiB. */
  readonly maxLineBytes?: number;
}

/** The default cap on one line, so a process that never prints a newline cannot grow our memory. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;

/**
 * Cuts a byte stream into UTF-8 lines. Handles `\n` and `\r\n`, characters split across chunks,
 * and over-long lines (emitted in pieces cut at character boundaries). One per stream; the owner
 * calls `push` for each chunk and `flush` once at the end.
 */
export class LineSplitter {
  private readonly maxLineBytes: number;
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private pendingBytes = 0;

  constructor(options: LineSplitterOptions = {}) {
    this.maxLineBytes = Math.max(4, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  }

  /** Feeds one chunk; returns the lines it completed, without their line terminators. */
  push(chunk: Buffer | string): string[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const out: string[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      this.append(text.slice(start, nl), out);
      out.push(stripCr(this.pending));
      this.pending = '';
      this.pendingBytes = 0;
      start = nl + 1;
    }
    this.append(text.slice(start), out);
    return out;
  }

  /** Ends the stream: returns the partial last line (if any) and resets. */
  flush(): string[] {
    const out: string[] = [];
    this.append(this.decoder.end(), out);
    if (this.pending.length > 0) out.push(stripCr(this.pending));
    this.pending = '';
    this.pendingBytes = 0;
    return out;
  }

  private append(segment: string, out: string[]): void {
    if (segment.length === 0) return;
    this.pending += segment;
    this.pendingBytes += Buffer.byteLength(segment);
    // A trailing '\r' may be half of a "\r\n" still to come, so it does not count towards the cap.
    while (this.pendingBytes - (this.pending.endsWith('\r') ? 1 : 0) > this.maxLineBytes) {
      const bytes = Buffer.from(this.pending);
      let cut = this.maxLineBytes;
      // Never cut inside a character: back up over UTF-8 continuation bytes (10xxxxxx).
      while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
      out.push(bytes.subarray(0, cut).toString('utf8'));
      this.pending = bytes.subarray(cut).toString('utf8');
      this.pendingBytes = bytes.length - cut;
    }
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
