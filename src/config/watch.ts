import { watch, type FSWatcher } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { realClock, type Clock, type TimerHandle } from '../util/index.js';
import { readConfigText } from './load.js';

/** Options of `new ConfigWatcher`. */
export interface ConfigWatcherOptions {
  /** The file to watch. */
  readonly file: string;
  /** Called with the new content once a change has settled. Awaited: calls never overlap. */
  readonly onChange: (text: string) => void | Promise<void>;
  /** A failure that did not stop the watcher: the file missing for a moment, a directory gone, `onChange` throwing. */
  readonly onError?: (err: unknown) => void;
  /** The content the caller already loaded; different content at `start` is a change. Default: what `start` reads. */
  readonly initialText?: string;
  /** Quiet time after the last file-system event before the file is read. Default 200 ms. */
  readonly debounceMs?: number;
  /** Delay before watching again after a directory could not be watched. Default 1 000 ms. */
  readonly retryMs?: number;
  readonly clock?: Clock;
}

/**
 * Watches one config file and reports its content when it really changed. It watches the
 * file's directory, not the file: editors replace a file by renaming a new one over it, and a
 * Kubernetes ConfigMap swaps a `..data` symlink, and a watch on the old inode sees neither. When
 * the file is a symlink, the directory of its target is watched too. Events only schedule a
 * debounced read; the content decides whether anything changed, so touches and rewrites with
 * the same bytes are silent, and an empty read must hold for a second debounce before it counts.
 * Created by the daemon; `start` begins, `stop` (or the signal) ends.
 */
export class ConfigWatcher {
  readonly #o: ConfigWatcherOptions;
  readonly #clock: Clock;
  readonly #file: string;
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #names = new Set<string>();
  #last: string | undefined;
  #known: boolean;
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #emptySeen = false;
  #stopped = true;
  #lastProgressAt: number | undefined;
  #unlisten: (() => void) | undefined;

  constructor(options: ConfigWatcherOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#file = resolve(options.file);
    this.#last = options.initialText;
    this.#known = options.initialText !== undefined;
  }

  /** When the file was last read successfully (for `/healthz`); undefined before the first read. */
  get lastProgressAt(): number | undefined {
    return this.#lastProgressAt;
  }

  /** Starts watching; resolves after the first read. Aborting `signal` is `stop()`. */
  async start(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (!this.#stopped) return;
    this.#stopped = false;
    if (signal) {
      const onAbort = (): void => void this.stop();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unlisten = () => signal.removeEventListener('abort', onAbort);
    }
    await this.check();
  }

  /** Stops watching and waits for a read or `onChange` in progress. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unlisten?.();
    this.#unlisten = undefined;
    this.#timer?.cancel();
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
    await this.#running;
  }

  /**
   * Reads the file now (also what events lead to, after the debounce) and calls `onChange` if it
   * changed. For a forced reload such as SIGHUP; resolves when the read and `onChange` are done.
   */
  check(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const run = this.#loop().finally(() => {
      this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      if (this.#stopped) return;
      await this.#checkOnce();
    } while (this.#again);
  }

  async #checkOnce(): Promise<void> {
    // Watches first, so a change made while the file is read is not missed.
    await this.#ensureWatches();
    let text: string | undefined;
    try {
      text = await readConfigText(this.#file);
      this.#lastProgressAt = this.#clock.now();
    } catch (err) {
      // Missing for a moment (an editor's delete-and-write): keep the last content and wait
      // for the event of its return.
      this.#report(err);
    }
    if (!this.#known) {
      // The first read is the baseline; a file missing at start makes its appearance a change.
      this.#known = true;
      this.#last = text;
      return;
    }
    // Any non-empty read ends an empty spell, also one with unchanged content (a truncate-and-rewrite).
    if (text !== undefined && text !== '') this.#emptySeen = false;
    if (text === undefined || text === this.#last || this.#stopped) return;
    if (text === '' && !this.#emptySeen) {
      // An empty file is a valid config that stops every process, and also what a reader sees
      // between a writer's truncate and its write: believe it only when it is still empty a
      // debounce later.
      this.#emptySeen = true;
      this.#schedule(this.#o.debounceMs ?? 200);
      return;
    }
    this.#emptySeen = false;
    this.#last = text;
    try {
      await this.#o.onChange(text);
    } catch (err) {
      this.#report(err);
    }
  }

  /** The directories to watch: the file's, and its target's when it is a symlink. */
  async #ensureWatches(): Promise<void> {
    const dirs = new Set([dirname(this.#file)]);
    this.#names.clear();
    this.#names.add(basename(this.#file));
    try {
      const target = await realpath(this.#file);
      dirs.add(dirname(target));
      this.#names.add(basename(target));
    } catch {
      // No file (yet): its directory's watch will see it arrive.
    }
    for (const [dir, w] of this.#watchers) {
      if (!dirs.has(dir)) {
        w.close();
        this.#watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.#stopped || this.#watchers.has(dir)) continue;
      try {
        const w = watch(dir, (_event, name) => this.#onEvent(name));
        w.on('error', (err) => {
          this.#watchers.delete(dir);
          w.close();
          this.#report(err);
          this.#schedule(this.#o.retryMs ?? 1_000);
        });
        this.#watchers.set(dir, w);
      } catch (err) {
        this.#report(err);
        this.#schedule(this.#o.retryMs ?? 1_000);
      }
    }
  }

  // Other files in the directory (a log written every second next to the config) must not keep
  // resetting the debounce. A ConfigMap update shows up as `..data` and `..<timestamp>` entries.
  #onEvent(name: string | null): void {
    if (name !== null && !this.#names.has(name) && !name.startsWith('..')) return;
    this.#schedule(this.#o.debounceMs ?? 200);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer?.cancel();
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      // check() reports every failure itself; this catch only keeps the promise handled.
      this.check().catch((err: unknown) => this.#report(err));
    }, delayMs);
  }

  #report(err: unknown): void {
    try {
      this.#o.onError?.(err);
    } catch {
      // The owner's error handler failing must not end the watch.
    }
  }
}
