import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../util/index.js';

/**
 * The state dir: one JSON file per process so a new supervisor can find what the last one
 * started. Written atomically (temp file + rename), so a crash mid-write leaves the old file.
 */

/** What is persisted about one process. */
export interface ProcessRecordFile {
  readonly id: string;
  readonly pid?: number | undefined;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): with pid, the identity. */
  readonly startTimeTicks?: number | undefined;
  readonly configHash: string;
  /** Epoch ms (the supervisor's clock) when it started. */
  readonly startedAt?: number | undefined;
  readonly restarts?: number | undefined;
  /** An explicit stop, remembered across supervisor restarts for `unless-stopped`. */
  readonly disabled?: boolean | undefined;
  /** How to stop it if its id is gone from the config when procmgr comes back (unmanaged: never). */
  readonly kind?: 'managed' | 'unmanaged' | undefined;
  readonly stopSignal?: NodeJS.Signals | undefined;
  readonly stopGracePeriodMs?: number | undefined;
  readonly killMode?: 'group' | 'tree' | undefined;
}

/** A stable hash of a parsed spec: keys sorted, so the same spec always hashes the same. */
export function configHash(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16);
}

/** Reads and writes the per-process files under one directory. */
export class StateStore {
  #ready: Promise<void> | undefined;
  #seq = 0;

  constructor(readonly dir: string) {}

  private file(id: string): string {
    // Ids may hold characters a file name cannot; encodeURIComponent keeps them readable and unique.
    return join(this.dir, `${encodeURIComponent(id)}.json`);
  }

  private ready(): Promise<void> {
    this.#ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    return this.#ready;
  }

  /** The record of `id`, or undefined when there is none or it is unreadable (then it is removed). */
  async read(id: string): Promise<ProcessRecordFile | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(id), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const rec = JSON.parse(text) as ProcessRecordFile;
      if (rec.id === id && typeof rec.configHash === 'string') return rec;
    } catch {
      // a torn or foreign file: fall through and drop it
    }
    await this.remove(id);
    return undefined;
  }

  async write(rec: ProcessRecordFile): Promise<void> {
    await this.ready();
    const target = this.file(rec.id);
    const tmp = `${target}.${process.pid}.${this.#seq++}.tmp`;
    await writeFile(tmp, JSON.stringify(rec), { mode: 0o600 });
    await rename(tmp, target);
  }

  async remove(id: string): Promise<void> {
    await rm(this.file(id), { force: true });
  }

  /** Ids with a record (for finding processes a previous supervisor left behind). */
  async ids(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((f) => f.endsWith('.json')).map((f) => decodeURIComponent(f.slice(0, -5)));
    } catch {
      return [];
    }
  }
}
