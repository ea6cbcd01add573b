import { closeSync, constants, fstatSync, ftruncateSync, openSync, read, readSync, rmSync, watch, write, type FSWatcher } from 'node:fs';
import { Readable } from 'node:stream';
import type { Clock, TimerHandle } from '../../util/index.js';

/*
 * Output spools: with a state dir, a process writes its stdout and stderr into files there
 * instead of pipes to procmgr, and procmgr follows the files. A pipe dies with procmgr (the next
 * write gets SIGPIPE, or blocks once full); a file does not, so a process procmgr reattaches to
 * after a crash has lost nothing, and what it wrote meanwhile is read when procmgr is back. This
 * is how container runtimes keep logs across a runtime restart.
 *
 * A spool is truncated once procmgr has read all of it and it is bigger than
 * `SPOOL_TRUNCATE_BYTES`. The process opened it with O_APPEND, so its next write lands at the new
 * end. Between procmgr's last check of the size and the truncation (two system calls back to
 * back) a write can still slip in and be lost: logrotate's copytruncate has the same window.
 * A process that writes faster than procmgr reads is not slowed down (nothing blocks a file
 * write): once procmgr is `SPOOL_BEHIND_LIMIT_BYTES` behind, the unread part is dropped and
 * counted, so the disk use stays bounded.
 *
 * Next to each spool, `<spool>.pos` holds how far procmgr had read (written at most once per
 * `POSITION_WRITE_MS`): after a crash, what came before it is only put back into the recent-lines
 * buffer, not written to the log file or procmgr's log again. Lines read in the last interval
 * before a crash are delivered twice; none is lost.
 */

/** A spool procmgr has read to the end is truncated once it is this big. */
export const SPOOL_TRUNCATE_BYTES = 1024 * 1024;
/** Unread output beyond this is dropped (counted in `dropped`). */
export const SPOOL_BEHIND_LIMIT_BYTES = 16 * 1024 * 1024;
/** How often the read position is saved while output flows. */
export const POSITION_WRITE_MS = 1_000;
/** A file change is noticed through inotify; this catches one it missed (or a file it cannot watch). */
export const SPOOL_POLL_MS = 1_000;

const CHUNK_BYTES = 64 * 1024;
/** Saved positions are fixed width, so a rewrite in place never leaves a longer old one's tail. */
const POSITION_WIDTH = 20;

/** Creates a fresh spool at `path` (a new file: whatever still holds the old one writes there) and its position file. Returns a write-only O_APPEND descriptor for the child; the caller closes it. */
export function createSpool(path: string): number {
  removeSpool(path);
  return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL, 0o600);
}

/** Removes a spool and its position file (either missing is fine). */
export function removeSpool(path: string): void {
  rmSync(path, { force: true });
  rmSync(`${path}.pos`, { force: true });
}

/** Options of `SpoolReader`. */
export interface SpoolReaderOptions {
  readonly path: string;
  readonly clock: Clock;
  /**
   * The spool was written under an earlier procmgr: read it from the start, with `replayBytes`
   * set to how far that procmgr got. Default false (a new run: its spool is empty).
   */
  readonly resume?: boolean;
}

/**
 * Follows one spool as a byte stream: reads what is there, then waits for more (inotify, with a
 * slow poll as a safety net) until `finish` is called, after which it reads to the end and ends.
 * Flow control is the stream's: it reads only when its consumer wants more. Owns its descriptors,
 * watcher and timers, all released when it ends or is destroyed. Emits `drop` (bytes) for each
 * drop (see `SPOOL_BEHIND_LIMIT_BYTES`).
 * @throws from the constructor when the spool cannot be opened (ENOENT: there is none).
 */
export class SpoolReader extends Readable {
  /** Bytes at the start already delivered by an earlier procmgr (see `resume`). */
  readonly replayBytes: number;
  readonly #clock: Clock;
  #fd: number | undefined;
  #posFd: number | undefined;
  #pos = 0;
  #dropped = 0;
  #reading = false;
  #waiting = false;
  #changed = false;
  #finishing = false;
  #watcher: FSWatcher | undefined;
  #poll: TimerHandle | undefined;
  #posTimer: TimerHandle | undefined;
  #posWriting = false;
  #posSaved = -1;

  constructor(opts: SpoolReaderOptions) {
    super({ highWaterMark: CHUNK_BYTES });
    this.#clock = opts.clock;
    const fd = openSync(opts.path, constants.O_RDWR);
    this.#fd = fd;
    try {
      this.#posFd = openSync(`${opts.path}.pos`, constants.O_RDWR | constants.O_CREAT, 0o600);
      const size = fstatSync(fd).size;
      const saved = opts.resume ? readPosition(this.#posFd) : 0;
      // A saved position past the end predates a truncation: everything there is new.
      this.replayBytes = saved <= size ? saved : 0;
    } catch (err) {
      this.#release();
      throw err;
    }
    try {
      this.#watcher = watch(opts.path, { persistent: false }, () => this.#wake());
      this.#watcher.on('error', () => this.#unwatch());
    } catch {
      // Out of inotify watches (or none on this file system): the poll alone notices changes.
    }
  }

  /** Bytes dropped because the process wrote faster than they were read. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The writer is gone (the process exited): read what is left, then end. */
  finish(): void {
    this.#finishing = true;
    this.#wake();
  }

  override _read(): void {
    this.#pump();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#release();
    callback(err);
  }

  #wake(): void {
    this.#changed = true;
    if (!this.#waiting) return;
    this.#waiting = false;
    this.#poll?.cancel();
    this.#poll = undefined;
    this.#pump();
  }

  #pump(): void {
    const fd = this.#fd;
    if (this.#reading || this.#waiting || fd === undefined) return;
    this.#reading = true;
    this.#changed = false;
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    read(fd, buf, 0, CHUNK_BYTES, this.#pos, (err, n) => {
      this.#reading = false;
      if (this.#fd === undefined) {
        closeSync(fd); // destroyed meanwhile: see #release
        return;
      }
      if (err) {
        this.destroy(err);
        return;
      }
      if (n > 0) {
        this.#pos += n;
        // Every read: a process writing flat out adds more to the file in one read than a limit checked less often would allow.
        this.#dropIfFarBehind(fd);
        this.#savePositionSoon();
        this.push(buf.subarray(0, n));
        return;
      }
      if (this.#changed) {
        this.#pump();
        return;
      }
      if (this.#finishing) {
        this.push(null);
        return;
      }
      this.#truncateIfRead(fd);
      this.#waiting = true;
      this.#poll = this.#clock.setTimer(() => {
        this.#poll = undefined;
        this.#wake();
      }, SPOOL_POLL_MS);
    });
  }

  #dropIfFarBehind(fd: number): void {
    const size = fstatSync(fd).size;
    if (size >= this.#pos && size - this.#pos <= SPOOL_BEHIND_LIMIT_BYTES) return;
    if (size > this.#pos) {
      ftruncateSync(fd, 0);
      this.#dropped += size - this.#pos;
      this.emit('drop', size - this.#pos);
    }
    this.#restartAt(0); // also when someone else truncated it
  }

  #truncateIfRead(fd: number): void {
    if (this.#pos < SPOOL_TRUNCATE_BYTES) return;
    // Back to back, so the window for a write to slip in between is as short as it can be.
    if (fstatSync(fd).size !== this.#pos) return;
    ftruncateSync(fd, 0);
    this.#restartAt(0);
  }

  #restartAt(pos: number): void {
    this.#pos = pos;
    this.#savePositionSoon(true);
  }

  #savePositionSoon(now = false): void {
    if (this.#posTimer && !now) return;
    this.#posTimer?.cancel();
    this.#posTimer = this.#clock.setTimer(
      () => {
        this.#posTimer = undefined;
        this.#savePosition();
      },
      now ? 0 : POSITION_WRITE_MS,
    );
  }

  #savePosition(): void {
    const fd = this.#posFd;
    if (fd === undefined || this.#posWriting || this.#posSaved === this.#pos) return;
    const pos = this.#pos;
    this.#posWriting = true;
    // Written in place through the descriptor, so a removed spool's position file is never created again.
    write(fd, Buffer.from(String(pos).padStart(POSITION_WIDTH, ' ')), 0, POSITION_WIDTH, 0, () => {
      this.#posWriting = false;
      this.#posSaved = pos;
      if (this.#posFd === undefined) closeSync(fd); // destroyed meanwhile: see #release
      else if (this.#pos !== pos) this.#savePositionSoon();
    });
  }

  #unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #release(): void {
    this.#unwatch();
    this.#poll?.cancel();
    this.#posTimer?.cancel();
    this.#poll = this.#posTimer = undefined;
    // A descriptor with I/O in flight is closed by that I/O's callback: closed now, its number could
    // be reused by another open before the write lands, which would then go into that file.
    if (this.#fd !== undefined && !this.#reading) closeSync(this.#fd);
    if (this.#posFd !== undefined && !this.#posWriting) closeSync(this.#posFd);
    this.#fd = this.#posFd = undefined;
  }
}

function readPosition(fd: number): number {
  const buf = Buffer.alloc(POSITION_WIDTH);
  const n = readSync(fd, buf, 0, POSITION_WIDTH, 0);
  const pos = Number(buf.toString('latin1', 0, n).trim());
  return Number.isSafeInteger(pos) && pos > 0 ? pos : 0;
}
