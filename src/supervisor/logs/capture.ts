import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { LoggingSpec } from '../../config/index.js';
import { describe } from '../../util/index.js';
import type { Clock, Logger, TimerHandle } from '../../util/index.js';
import { DROP_REPORT_INTERVAL_MS, LogForwarder } from './forward.js';
import { LineSplitter } from './line-splitter.js';
import { LineRing, type LogLine, type StreamName } from './ring-buffer.js';
import { RotatingFile } from './rotating-file.js';
import type { LogFileError } from './rotating-file.js';
import type { SpoolReader } from './spool.js';

export type { LogLine, StreamName } from './ring-buffer.js';

/** What a capture has done, for status: counters since it began (a new logging spec starts a new one). */
export interface LogStats {
  /** Lines captured: each is in the buffer (while it fits), the file and followers. */
  readonly lines: number;
  /** Lines not copied into procmgr's own log because its destination was behind (see `logging.forward`). */
  readonly notForwarded: number;
  /** Cuts made in lines longer than the line cap (a 40 KiB line is cut twice at 16 KiB). */
  readonly cuts: number;
  /** Times reading the output waited for the log file to catch up (the process waited; nothing was lost). */
  readonly fileWaits: number;
  /** Bytes of output dropped unread from a spool the process filled faster than it was read (state dir only; see `SpoolReader`). */
  readonly droppedBytes: number;
}

/**
 * A stream is paused (so the process waits on its writes) while its log file has this much to
 * write, or this many records: what a slow disk can make us hold stays near these.
 */
export const FILE_BACKLOG_LIMIT_BYTES = 1024 * 1024;
export const FILE_BACKLOG_LIMIT_RECORDS = 16 * 1024;

/** How long `close` waits for attached streams to end (the rest of a pipe after the process exited). */
export const CLOSE_WAIT_MS = 1_000;

/** Options of `LogCapture`. */
export interface LogCaptureOptions {
  /** Process id, carried by every record. */
  readonly id: string;
  /** procmgr's log: with `spec.forward`, one `info` record `{ process, stream, msg }` per line (see `LogForwarder`). */
  readonly logger: Logger;
  readonly clock: Clock;
  readonly spec: LoggingSpec;
  /** Base of a relative `spec.file`; defaults to procmgr's own working directory. */
  readonly cwd?: string;
  /** Lines longer than this are cut into pieces; default 16 KiB. */
  readonly maxLineBytes?: number;
  /** Told about log file failures (they are logged either way). */
  readonly onFileError?: (err: LogFileError) => void;
  /** Overrides how the forwarder sees that procmgr's log destination is behind (tests). */
  readonly forwardBehind?: () => boolean;
}

/**
 * The output of one supervised process, across its restarts: each line is kept in a ring buffer
 * (bounded by lines and bytes), appended to the optional file, delivered to subscribers and
 * copied into procmgr's log. Memory stays bounded whatever the process writes: lines are capped,
 * a file that falls behind pauses the reading (the process blocks on its pipe), and procmgr's
 * log gets no more while its destination is behind. The supervisor attaches the streams of every
 * spawn and closes the capture when the process is removed.
 */
export class LogCapture {
  private readonly opts: LogCaptureOptions;
  private readonly ring: LineRing;
  private readonly file: RotatingFile | undefined;
  private readonly forwarder: LogForwarder | undefined;
  private readonly subscribers = new Set<(line: LogLine) => void>();
  private readonly splitters = new Set<LineSplitter>();
  private readonly attached = new Set<Promise<void>>();
  private cutsOfEnded = 0;
  private droppedBytes = 0;
  private unreportedDrops = 0;
  private dropReportedAt = Number.NEGATIVE_INFINITY;
  private fileWaits = 0;
  private closing: Promise<void> | undefined;

  constructor(options: LogCaptureOptions) {
    this.opts = options;
    const { id, spec, logger, clock, cwd, onFileError } = options;
    this.ring = new LineRing(spec.bufferLines, spec.bufferSize);
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
    this.forwarder = spec.forward ? new LogForwarder({ id, logger, clock, ...(options.forwardBehind ? { behind: options.forwardBehind } : {}) }) : undefined;
  }

  /** Absolute path of the log file, if one is configured. */
  get filePath(): string | undefined {
    return this.opts.spec.file === undefined ? undefined : resolve(this.opts.cwd ?? process.cwd(), this.opts.spec.file);
  }

  /** The counters so far, for status (cheap: any caller, any time). */
  stats(): LogStats {
    let cuts = this.cutsOfEnded;
    for (const s of this.splitters) cuts += s.cuts;
    return { lines: this.ring.nextSeq - 1, notForwarded: this.forwarder?.dropped ?? 0, cuts, fileWaits: this.fileWaits, droppedBytes: this.droppedBytes };
  }

  /**
   * Captures a spool (see `SpoolReader`) like `attach`. What an earlier procmgr had read of it
   * (`replayBytes`) goes into the buffer only: the file, followers and procmgr's log had it.
   */
  attachSpool(spool: SpoolReader, name: StreamName): Promise<void> {
    spool.on('drop', (bytes: number) => {
      this.droppedBytes += bytes;
      this.unreportedDrops += bytes;
      const now = this.opts.clock.now();
      // A process writing flat out fills the spool again and again: one line per interval, with the sum.
      if (now - this.dropReportedAt < DROP_REPORT_INTERVAL_MS) return;
      this.dropReportedAt = now;
      this.reportDrops(name);
    });
    return this.attach(spool, name, spool.replayBytes);
  }

  /**
   * Captures `stream` line by line. Resolves (never rejects) once it has ended, closed or failed
   * and its partial last line is captured.
   */
  attach(stream: Readable, name: StreamName, replayBytes = 0): Promise<void> {
    const splitter = new LineSplitter(this.opts.maxLineBytes === undefined ? {} : { maxLineBytes: this.opts.maxLineBytes });
    this.splitters.add(splitter);
    // Listeners rather than `for await`: the async iterator costs a promise per chunk and more at
    // the end, which adds up when hundreds of processes stop at once.
    const done = new Promise<void>((resolve) => {
      let done = false;
      let at = 0;
      let replay = replayBytes;
      const emit = (text: string, bytes: number): void => this.emit(name, text, bytes, at);
      const keep = (text: string, bytes: number): void => void this.ring.push(name, at, text, bytes);
      const resume = (): void => void stream.resume();
      const onData = (data: Buffer | string): void => {
        at = this.opts.clock.now(); // one clock read per chunk: its lines arrived together
        let chunk = typeof data === 'string' ? Buffer.from(data) : data;
        if (replay > 0) {
          // A line that straddles the end of the replay is delivered in full: twice rather than never.
          const old = chunk.subarray(0, replay);
          replay -= old.length;
          chunk = chunk.subarray(old.length);
          splitter.push(old, keep);
        }
        splitter.push(chunk, emit);
        // At most one chunk per turn of the event loop (setImmediate is that turn, not a delay):
        // a process writing as fast as it can shares the loop with the API, probes and procmgr's
        // own log instead of holding it for a run of reads (the API's latency under `yes` shows it).
        stream.pause();
        const file = this.file;
        if (file && (file.backlogBytes > FILE_BACKLOG_LIMIT_BYTES || file.backlogRecords > FILE_BACKLOG_LIMIT_RECORDS)) {
          this.fileWaits++;
          file.flush().then(resume, resume);
        } else {
          setImmediate(resume);
        }
      };
      // 'end' comes first (the partial last line is flushed before the exit is handled); 'close'
      // covers a stream destroyed without one. The listeners are not removed: a finished stream
      // emits nothing more, and is dropped with them.
      const finish = (): void => {
        if (done) return;
        done = true;
        at = this.opts.clock.now();
        splitter.flush(emit);
        this.splitters.delete(splitter);
        this.cutsOfEnded += splitter.cuts;
        resolve();
      };
      const onError = (err: unknown): void => {
        // A broken pipe ends the capture of this stream, not the process; what was read is kept.
        this.opts.logger.warn({ process: this.opts.id, stream: name, err: describe(err) }, 'output stream failed');
        finish();
      };
      stream.on('data', onData).once('end', finish).once('close', finish).once('error', onError);
    });
    this.attached.add(done);
    void done.then(() => this.attached.delete(done));
    return done;
  }

  private reportDrops(stream?: StreamName): void {
    if (this.unreportedDrops === 0) return;
    this.opts.logger.warn({ process: this.opts.id, ...(stream ? { stream } : {}), bytes: this.unreportedDrops }, 'output dropped: the process wrote faster than procmgr could read it');
    this.unreportedDrops = 0;
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

  /**
   * Waits (up to `CLOSE_WAIT_MS`) for the attached streams to end, so the last lines of an exited
   * process reach the file and subscribers; then reports lines not forwarded, flushes and closes
   * the file and drops subscribers. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.streamsEnded();
      this.reportDrops();
      this.subscribers.clear();
      this.forwarder?.close();
      await this.file?.close();
    })();
    return this.closing;
  }

  private async streamsEnded(): Promise<void> {
    if (this.attached.size === 0) return;
    let timer: TimerHandle | undefined;
    await Promise.race([Promise.all(this.attached), new Promise<void>((resolve) => (timer = this.opts.clock.setTimer(resolve, CLOSE_WAIT_MS)))]);
    timer?.cancel();
  }

  private emit(stream: StreamName, text: string, bytes: number, at: number): void {
    const seq = this.ring.push(stream, at, text, bytes);
    this.forwarder?.forward(stream, text, bytes, at);
    this.file?.write(`${text}\n`);
    if (this.subscribers.size === 0) return;
    const line: LogLine = { seq, at, stream, line: text };
    for (const fn of this.subscribers) {
      try {
        fn(line);
      } catch (err) {
        this.opts.logger.warn({ process: this.opts.id, err: describe(err) }, 'log subscriber failed');
      }
    }
  }
}
