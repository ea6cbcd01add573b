import { mkdir, open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ProcmgrError, describe } from '../../util/index.js';
import type { Logger } from '../../util/index.js';

/** Writing, rotating or closing a log file failed. The records of that batch are lost; later ones are tried again. */
export class LogFileError extends ProcmgrError<'LOG_FILE'> {
  constructor(file: string, cause: unknown) {
    super('LOG_FILE', `log file ${file}: ${describe(cause)}`, { cause, details: { file } });
  }
}

/** Options of `RotatingFile`. */
export interface RotatingFileOptions {
  /** Absolute (or cwd-relative) path; parent directories are created. */
  readonly path: string;
  /** Rotate before a write that would make the file larger than this (bytes). */
  readonly maxSize: number;
  /** Rotated files kept: `path.1` (newest) … `path.N`. 0 truncates `path` instead. */
  readonly maxFiles: number;
  readonly logger: Logger;
  /** Told about every failure (after it is logged). */
  readonly onError?: (err: LogFileError) => void;
}

/**
 * An append-only log file with size-based rotation. `write` never throws and never blocks: records
 * queue in memory and one drain loop writes them in order, batching whatever piled up meanwhile.
 * A record is never split across files; one larger than `maxSize` gets a file of its own.
 */
export class RotatingFile {
  private readonly opts: RotatingFileOptions;
  private handle: FileHandle | undefined;
  private size = 0;
  private queue: string[] = [];
  private sizes: number[] = [];
  private queuedBytes = 0;
  private writingBytes = 0;
  private writingRecords = 0;
  private draining = false;
  private idle: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(options: RotatingFileOptions) {
    this.opts = options;
  }

  /** Bytes queued or being written: what the file is behind by. */
  get backlogBytes(): number {
    return this.queuedBytes + this.writingBytes;
  }

  /** Records queued or being written. */
  get backlogRecords(): number {
    return this.queue.length + this.writingRecords;
  }

  /** Queues `record` (written as is; add the '\n' yourself). Dropped after `close()`. */
  write(record: string): void {
    if (this.closing) return;
    const bytes = Buffer.byteLength(record);
    this.queue.push(record);
    this.sizes.push(bytes);
    this.queuedBytes += bytes;
    if (this.draining) return;
    this.draining = true;
    this.idle = this.drain();
  }

  /** Resolves when everything queued so far is written (or has failed and been reported). */
  flush(): Promise<void> {
    return this.idle;
  }

  /** Writes what is queued, then closes the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.idle.then(() => this.closeHandle());
    return this.closing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        const sizes = this.sizes;
        this.writingBytes = this.queuedBytes;
        this.writingRecords = batch.length;
        this.queue = [];
        this.sizes = [];
        this.queuedBytes = 0;
        try {
          await this.writeBatch(batch, sizes);
        } catch (err) {
          this.fail(err);
          // Start from a fresh handle next time; the old one may be the problem.
          await this.closeHandle();
        } finally {
          this.writingBytes = 0;
          this.writingRecords = 0;
        }
      }
    } finally {
      // Runs in the same turn as the empty-queue check, so no write can slip in between.
      this.draining = false;
    }
  }

  private async writeBatch(records: readonly string[], sizes: readonly number[]): Promise<void> {
    let chunk = '';
    let chunkBytes = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as string;
      const bytes = sizes[i] ?? 0;
      const handle = this.handle ?? (await this.ensureOpen());
      if (this.size + chunkBytes > 0 && this.size + chunkBytes + bytes > this.opts.maxSize) {
        await this.append(handle, chunk, chunkBytes);
        chunk = '';
        chunkBytes = 0;
        await this.rotate();
      }
      chunk += record;
      chunkBytes += bytes;
    }
    if (chunkBytes > 0) await this.append(await this.ensureOpen(), chunk, chunkBytes);
  }

  private async append(handle: FileHandle, chunk: string, bytes: number): Promise<void> {
    if (bytes === 0) return;
    await handle.appendFile(chunk, 'utf8');
    this.size += bytes;
  }

  private async ensureOpen(): Promise<FileHandle> {
    if (this.handle) return this.handle;
    await mkdir(dirname(this.opts.path), { recursive: true });
    const handle = await open(this.opts.path, 'a');
    try {
      // An existing file (from before a restart) keeps growing until it reaches maxSize.
      this.size = (await handle.stat()).size;
    } catch (err) {
      await handle.close();
      throw err;
    }
    this.handle = handle;
    return handle;
  }

  private async rotate(): Promise<void> {
    await this.closeHandle();
    const { path, maxFiles } = this.opts;
    if (maxFiles === 0) {
      await rm(path, { force: true });
      return;
    }
    // rename() replaces its target, so the oldest file falls off the end.
    for (let i = maxFiles - 1; i >= 1; i--) await renameIfExists(`${path}.${i}`, `${path}.${i + 1}`);
    await renameIfExists(path, `${path}.1`);
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    try {
      await handle?.close();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    const error = err instanceof LogFileError ? err : new LogFileError(this.opts.path, err);
    this.opts.logger.error({ file: this.opts.path, err: error.message }, 'log file write failed');
    try {
      this.opts.onError?.(error);
    } catch {
      // The owner's callback failing must not stop the drain loop; the error is logged above.
    }
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
