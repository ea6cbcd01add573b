import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { LoggingSpec } from '../../config/index.js';
import { describe } from '../../util/index.js';
import type { Clock, Logger } from '../../util/index.js';
import { LineSplitter } from './line-splitter.js';
import { RingBuffer } from './ring-buffer.js';
import { RotatingFile } from './rotating-file.js';
import type { LogFileError } from './rotating-file.js';

/** Which output of the process a line came from. */
export type StreamName = 'stdout' | 'stderr';

/** One captured line. `seq` increases by one per line of this capture, across restarts. */
export interface LogLine {
  readonly seq: number;
  /** Clock time the line was complete (ms). */
  readonly at: number;
  readonly stream: StreamName;
  readonly line: string;
}

/** Options of `LogCapture`. */
export interface LogCaptureOptions {
  /** Process id, carried by every record. */
  readonly id: string;
  /** Receives one `info` record `{ process, stream, msg }` per line. */
  readonly logger: Logger;
  readonly clock: Clock;
  readonly spec: LoggingSpec;
  /** Base of a relative `spec.file`; defaults to procmgr's own working directory. */
  readonly cwd?: string;
  /** Lines longer than this are split; default 16 KiB. */
  readonly maxLineBytes?: number;
  /** Told about log file failures (they are logged either way). */
  readonly onFileError?: (err: LogFileError) => void;
}

/**
 * The output of one supervised process, across its restarts: each line is logged, kept in a ring
 * buffer, appended to the optional file and delivered to subscribers. The supervisor attaches the
 * streams of every spawn and closes the capture when the process is removed.
 */
export class LogCapture {
  private readonly opts: LogCaptureOptions;
  private readonly ring: RingBuffer<LogLine>;
  private readonly file: RotatingFile | undefined;
  private readonly subscribers = new Set<(line: LogLine) => void>();
  private closing: Promise<void> | undefined;

  constructor(options: LogCaptureOptions) {
    this.opts = options;
    const { id, spec, logger, cwd, onFileError } = options;
    this.ring = new RingBuffer<LogLine>(spec.bufferLines);
    this.file =
      spec.file === undefined
        ? undefined
        : new RotatingFile({
            path: resolve(cwd ?? process.cwd(), spec.file),
            maxSize: spec.maxSize,
            maxFiles: spec.maxFiles,
            logger: logger.child({ process: id }),
            ...(onFileError ? { onError: onFileError } : {}),
          });
  }

  /** Absolute path of the log file, if one is configured. */
  get filePath(): string | undefined {
    return this.opts.spec.file === undefined ? undefined : resolve(this.opts.cwd ?? process.cwd(), this.opts.spec.file);
  }

  /**
   * Captures `stream` line by line. Resolves (never rejects) once it has ended, closed or failed
   * and its partial last line is captured; the supervisor awaits it before reporting the exit.
   */
  attach(stream: Readable, name: StreamName): Promise<void> {
    const splitter = new LineSplitter(this.opts.maxLineBytes === undefined ? {} : { maxLineBytes: this.opts.maxLineBytes });
    // Listeners rather than `for await`: the async iterator costs a promise per chunk and more at
    // the end, which adds up when hundreds of processes stop at once.
    return new Promise((resolve) => {
      let done = false;
      const onData = (chunk: Buffer | string): void => {
        for (const line of splitter.push(chunk)) this.emit(name, line);
      };
      // 'end' comes first (the partial last line is flushed before the exit is handled); 'close'
      // covers a stream destroyed without one. The listeners are not removed: a finished stream
      // emits nothing more, and is dropped with them.
      const finish = (): void => {
        if (done) return;
        done = true;
        for (const line of splitter.flush()) this.emit(name, line);
        resolve();
      };
      const onError = (err: unknown): void => {
        // A broken pipe ends the capture of this stream, not the process; what was read is kept.
        this.opts.logger.warn({ process: this.opts.id, stream: name, err: describe(err) }, 'output stream failed');
        finish();
      };
      stream.on('data', onData).once('end', finish).once('close', finish).once('error', onError);
    });
  }

  /** Calls `fn` with every line captured from now on; returns the unsubscribe function. */
  subscribe(fn: (line: LogLine) => void): () => void {
    const wrapped = (line: LogLine): void => fn(line);
    this.subscribers.add(wrapped);
    return () => {
      this.subscribers.delete(wrapped);
    };
  }

  /** Buffered lines, oldest first: those after `since` (a seq), then the last `tail` of them. */
  lines(opts: { tail?: number; since?: number } = {}): LogLine[] {
    const found = opts.since === undefined ? this.ring.toArray() : this.ring.since(opts.since);
    return opts.tail === undefined ? found : found.slice(Math.max(0, found.length - Math.max(0, opts.tail)));
  }

  /** Flushes and closes the file and drops subscribers. Idempotent; call after the streams ended. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.subscribers.clear();
      await this.file?.close();
    })();
    return this.closing;
  }

  private emit(stream: StreamName, text: string): void {
    const { id, logger, clock } = this.opts;
    const line: LogLine = { seq: this.ring.nextSeq, at: clock.now(), stream, line: text };
    this.ring.push(line);
    logger.info({ process: id, stream }, text);
    this.file?.write(`${text}\n`);
    for (const fn of this.subscribers) {
      try {
        fn(line);
      } catch (err) {
        logger.warn({ process: id, err: describe(err) }, 'log subscriber failed');
      }
    }
  }
}
