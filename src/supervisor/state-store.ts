import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, ProcmgrError } from '../util/index.js';
import { isRunMark } from './run-mark.js';

/**
 * The state dir: one JSON file per process so a new supervisor can find what the last one
 * started (and which jobs are done). Written atomically (temp file + rename), so a crash
 * mid-write leaves the old file. Operations on one id run in call order.
 */

/** How a job's last run ended, once its restart policy runs it no more. */
export interface FinishedRun {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Epoch ms (the supervisor's clock) of the exit. */
  readonly at: number;
  readonly reason?: string | undefined;
}

/** What is persisted about one process. */
export interface ProcessRecordFile {
  readonly id: string;
  readonly pid?: number | undefined;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): with pid, the identity. */
  readonly startTimeTicks?: number | undefined;
  readonly configHash: string;
  /** Epoch ms (the supervisor's clock) when it started. */
  readonly startedAt?: number | undefined;
  /** Restarts after an unexpected end (see `RestartCause`). */
  readonly restarts?: number | undefined;
  /** Restarts someone asked for; absent in files written before it was counted apart. */
  readonly requestedRestarts?: number | undefined;
  /** An explicit stop, remembered across supervisor restarts for `unless-stopped`. */
  readonly disabled?: boolean | undefined;
  /** A job that is done under `configHash`: a restarted procmgr does not run it again for that spec. */
  readonly finished?: FinishedRun | undefined;
  /** How to stop it if its id is gone from the config when procmgr comes back (unmanaged: never). */
  readonly kind?: 'managed' | 'unmanaged' | undefined;
  readonly stopSignal?: NodeJS.Signals | undefined;
  readonly stopGracePeriodMs?: number | undefined;
  readonly killMode?: 'group' | 'tree' | undefined;
  /** The `PROCMGR_RUN` mark of the live run (`killMode: tree`), so a restarted procmgr still finds its descendants. */
  readonly runMark?: string | undefined;
}

/** The state dir could not be read or written. `details.id` names the process. */
export class StateFileError extends ProcmgrError<'STATE_FILE'> {
  constructor(message: string, options: { cause: unknown; details: { id: string; path: string } }) {
    super('STATE_FILE', message, options);
  }
}

/** A stable hash of a parsed spec: keys sorted, so the same spec always hashes the same. */
export function configHash(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16);
}

/** The longest name a Linux file system takes, in bytes. */
const NAME_MAX = 255;
/** The readable part of a hashed name, in bytes (ASCII: the name is percent-encoded). */
const PREFIX_MAX = 100;
const EXT = '.json';

/**
 * The file name of `id`'s record, at most 138 bytes when hashed and never over 255:
 * - `encodeURIComponent(id).json` when that fits in 255 bytes: the name every record had before,
 *   so a state dir written by an older procmgr reads as it is;
 * - otherwise the encoding's first ≤ 100 bytes (whole characters), `+`, and 32 hex digits of the
 *   SHA-256 of the id's UTF-16 code units. The encoding never yields `+` (it is `%2B`), so the two
 *   forms never meet; an id with a lone surrogate (no encoding) always gets this form.
 * The id itself is inside the file and checked on read.
 */
export function stateFileName(id: string): string {
  let encoded = '';
  let prefixEnd: number | undefined;
  let whole = true;
  for (const ch of id) {
    const unit = ch.charCodeAt(0);
    if (ch.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      whole = false; // a lone surrogate: encodeURIComponent would throw
      break;
    }
    const e = encodeURIComponent(ch);
    if (encoded.length + e.length > PREFIX_MAX) prefixEnd ??= encoded.length;
    encoded += e;
    if (encoded.length + EXT.length > NAME_MAX) {
      whole = false;
      break;
    }
  }
  if (whole) return `${encoded}${EXT}`;
  const hash = createHash('sha256').update(Buffer.from(id, 'utf16le')).digest('hex').slice(0, 32);
  return `${encoded.slice(0, prefixEnd ?? encoded.length)}+${hash}${EXT}`;
}

/** Nothing is there: no file, or a path component that is not a directory. */
function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function parseRecord(text: string): ProcessRecordFile | undefined {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return undefined; // torn or foreign
  }
  if (typeof rec !== 'object' || rec === null) return undefined;
  const r = rec as Record<string, unknown>;
  if (typeof r.id !== 'string' || typeof r.configHash !== 'string') return undefined;
  const f = r.finished as Record<string, unknown> | undefined;
  const finishedOk = f === undefined || (typeof f === 'object' && f !== null && typeof f.at === 'number' && typeof f.pid === 'number');
  // A mark selects processes to kill: anything but one procmgr could have made is dropped.
  const markOk = r.runMark === undefined || isRunMark(r.runMark);
  // A counter that is not one is dropped (read as 0), not carried into status and metrics.
  return {
    ...(rec as ProcessRecordFile),
    ...(finishedOk ? {} : { finished: undefined }),
    ...(markOk ? {} : { runMark: undefined }),
    restarts: countOf(r.restarts),
    requestedRestarts: countOf(r.requestedRestarts),
  };
}

function countOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

const DONE: Promise<unknown> = Promise.resolve();

/** Reads and writes the per-process files under one directory. Owned by one supervisor. */
export class StateStore {
  /** The tail of each id's operations, so a remove and a read that follows it never cross. */
  readonly #tails = new Map<string, Promise<unknown>>();

  constructor(readonly dir: string) {}

  /** The path of `id`'s record (see `stateFileName`). */
  path(id: string): string {
    return join(this.dir, stateFileName(id));
  }

  /** Where the current run of `id` writes `stream` (see `SpoolReader`): next to its record. */
  spoolPath(id: string, stream: 'stdout' | 'stderr'): string {
    return join(this.dir, `${stateFileName(id).slice(0, -EXT.length)}.${stream}`);
  }

  #serial<T>(id: string, op: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(id) ?? DONE).then(op, op);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(id, tail);
    void tail.then(() => {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
    return run;
  }

  /**
   * The record of `id`, or undefined when there is none (a torn or foreign file is removed).
   * @throws StateFileError when the file is there but cannot be read: a process may be running
   * from before, so the caller should not assume there is none.
   */
  read(id: string): Promise<ProcessRecordFile | undefined> {
    return this.#serial(id, async () => {
      const path = this.path(id);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if (isAbsent(err)) return undefined;
        throw new StateFileError(`state file not readable: ${(err as Error).message}`, { cause: err, details: { id, path } });
      }
      const rec = parseRecord(text);
      if (rec?.id === id) return rec;
      await rm(path, { force: true }).catch(() => undefined);
      return undefined;
    });
  }

  /** Replaces the record of `rec.id`. @throws StateFileError (the old record, if any, stays). */
  write(rec: ProcessRecordFile): Promise<void> {
    return this.#serial(rec.id, async () => {
      const path = this.path(rec.id);
      const tmp = join(this.dir, `.${process.pid}-${randomUUID()}.tmp`);
      try {
        await mkdir(this.dir, { recursive: true, mode: 0o700 });
        await writeFile(tmp, JSON.stringify(rec), { mode: 0o600 });
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        throw new StateFileError(`state file not written: ${(err as Error).message}`, { cause: err, details: { id: rec.id, path } });
      }
    });
  }

  /** Removes the record of `id` (none is fine). @throws StateFileError */
  remove(id: string): Promise<void> {
    return this.#serial(id, async () => {
      const path = this.path(id);
      try {
        await rm(path, { force: true });
      } catch (err) {
        if (isAbsent(err)) return;
        throw new StateFileError(`state file not removed: ${(err as Error).message}`, { cause: err, details: { id, path } });
      }
    });
  }

  /**
   * Every record in the dir (for finding processes a previous supervisor left behind), sorted by
   * id. A file that is not a record of the id it names is removed; one that cannot be read is skipped. Reads outside the per-id order:
   * call it before any process of this store is synced (at startup).
   */
  async list(): Promise<ProcessRecordFile[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((f) => f.endsWith(EXT));
    } catch (err) {
      if (isAbsent(err)) return [];
      throw err;
    }
    const records = await Promise.all(
      names.map(async (name) => {
        const path = join(this.dir, name);
        const text = await readFile(path, 'utf8').catch(() => undefined);
        if (text === undefined) return undefined; // gone, or not ours to read: left alone
        const rec = parseRecord(text);
        if (rec && stateFileName(rec.id) === name) return rec;
        await rm(path, { force: true }).catch(() => undefined);
        return undefined;
      }),
    );
    return records.filter((r): r is ProcessRecordFile => r !== undefined).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
