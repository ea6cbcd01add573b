import { jitteredBackoffMs, realClock, sleep, silentLogger, type Clock, type Logger, type TimerHandle } from '../util/index.js';
import { statusOf, type ProcessSetApi, type ProcessSetObject, type WatchEvent } from './api.js';
import { SourceHealthTracker, type SourceError, type SourceHealth } from './source-health.js';

/** Options of `ProcessSetWatchLoop`; every duration has a default. */
export interface WatchLoopOptions {
  readonly api: ProcessSetApi;
  /** The set as it is now (undefined: it does not exist). Called after every list and watch event; must not throw. */
  readonly onChange: (set: ProcessSetObject | undefined) => void;
  /**
   * The server refused a read in a way retrying does not fix (401, 403, 404): called once per
   * distinct refusal, to log it and record an Event; the loop keeps retrying. Must not throw.
   */
  readonly onRefused?: (error: SourceError) => void;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Retry delay after a failure: base · 2^(n−1), capped, jittered ±25 %. Defaults 500 ms / 30 s. */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /**
   * A watch with no event, bookmark or reconnect for this long is presumed stuck (a silent
   * connection) and restarted from a fresh list. Default 6 min (the server ends a watch after 5 and
   * sends bookmarks meanwhile).
   */
  readonly watchdogMs?: number;
  readonly random?: () => number;
}

/**
 * Lists and watches one ProcessSet for as long as it runs, and owns its retries: relist on 410
 * Gone, jittered backoff on errors and 429, a watchdog for a silent watch. It never stops by
 * itself; `lastProgressAt` (for `/healthz`) tells when it last heard from the server.
 */
export class ProcessSetWatchLoop {
  readonly #o: WatchLoopOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;
  #lastProgressAt: number | undefined;
  #failures = 0;
  readonly #source: SourceHealthTracker;
  /** Lists and watches since start (for tests and metrics). */
  readonly stats = { lists: 0, watches: 0, relists410: 0, watchdogRestarts: 0, errors: 0 };

  constructor(options: WatchLoopOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#log = options.logger ?? silentLogger;
    this.#source = new SourceHealthTracker(this.#clock.now());
  }

  /** How the reads stand (`/healthz`): state, since when, the first successful read, the last error. */
  get source(): SourceHealth {
    return this.#source.health;
  }

  get lastProgressAt(): number | undefined {
    return this.#lastProgressAt;
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  async stop(): Promise<void> {
    this.#stop.abort(new Error('watch loop stopped'));
    await this.#running;
  }

  #progress(watched: boolean): void {
    this.#lastProgressAt = this.#clock.now();
    this.#source.succeeded(this.#lastProgressAt, watched);
  }

  async #loop(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        const { object, resourceVersion } = await this.#o.api.list(signal);
        this.stats.lists++;
        this.#progress(false);
        this.#failures = 0;
        this.#o.onChange(object);
        // A watch the server closed in the normal way resumes from where it was; a 410 or the watchdog lists again.
        for (let from = resourceVersion; !signal.aborted; ) {
          const began = this.#clock.now();
          const end = await this.#watch(from, signal);
          if (end.relist) break;
          from = end.resourceVersion;
          // A server that closes watches at once must not turn this into a busy loop.
          if (this.#clock.now() - began < 1_000) await sleep(this.#clock, 1_000, signal).catch(() => undefined);
        }
      } catch (err) {
        if (signal.aborted) break;
        this.stats.errors++;
        this.#failures++;
        const status = statusOf(err);
        const refused = this.#source.failed(err, this.#clock.now());
        if (refused) this.#o.onRefused?.(refused);
        const delay = jitteredBackoffMs(this.#failures, { baseMs: this.#o.backoffBaseMs ?? 500, maxMs: this.#o.backoffMaxMs ?? 30_000, jitter: 0.5 }, this.#o.random ?? Math.random);
        this.#log.warn({ err: err instanceof Error ? err.message : String(err), status, retryInMs: Math.round(delay) }, status === 429 ? 'API server throttles us; backing off' : 'ProcessSet list/watch failed; retrying');
        await sleep(this.#clock, delay, signal).catch(() => undefined);
      }
    }
  }

  /** One watch, until it ends: resolves (relist or resume from `resourceVersion`), rejects on an error. */
  #watch(fromVersion: string, signal: AbortSignal): Promise<{ relist: boolean; resourceVersion: string }> {
    let resourceVersion = fromVersion;
    let relist = false;
    return new Promise((resolve, reject) => {
      let watchdog: TimerHandle | undefined;
      let controller: AbortController | undefined;
      let settled = false;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        watchdog?.cancel();
        signal.removeEventListener('abort', onStop);
        controller?.abort();
        if (err === undefined) resolve({ relist, resourceVersion });
        else reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
      };
      const arm = (): void => {
        watchdog?.cancel();
        watchdog = this.#clock.setTimer(() => {
          this.stats.watchdogRestarts++;
          this.#log.warn({ silentForMs: this.#o.watchdogMs ?? 360_000 }, 'ProcessSet watch silent for too long; restarting it');
          relist = true;
          finish();
        }, this.#o.watchdogMs ?? 360_000);
      };
      const onStop = (): void => finish();
      signal.addEventListener('abort', onStop, { once: true });
      const onEvent = (e: WatchEvent): void => {
        if (settled) return;
        this.#progress(true);
        arm();
        switch (e.type) {
          case 'ADDED':
          case 'MODIFIED':
            resourceVersion = e.object.metadata.resourceVersion ?? resourceVersion;
            this.#o.onChange(e.object);
            break;
          case 'DELETED':
            resourceVersion = e.object.metadata.resourceVersion ?? resourceVersion;
            this.#o.onChange(undefined);
            break;
          case 'BOOKMARK':
            resourceVersion = e.object.metadata.resourceVersion ?? resourceVersion;
            break;
          case 'ERROR':
            if (e.object.code === 410) {
              // Our resourceVersion is too old (compacted): list again, then watch from there.
              this.stats.relists410++;
              this.#log.info({ resourceVersion }, 'ProcessSet watch expired (410 Gone); relisting');
              relist = true;
              finish();
            } else finish(Object.assign(new Error(e.object.message ?? 'watch error'), { statusCode: e.object.code }));
            break;
        }
      };
      arm();
      this.stats.watches++;
      this.#o.api
        .watch(resourceVersion, onEvent, (err: unknown) => {
          // Closed by the server (timeoutSeconds) or the connection dropped: relist either way; an HTTP error backs off.
          if (err === null || err === undefined || signal.aborted || isAbort(err)) finish();
          else if (statusOf(err) === 410) {
            this.stats.relists410++;
            relist = true;
            finish();
          } else finish(err);
        })
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        }, finish);
    });
  }
}

/** An abort, or a client-side inactivity timeout: the watch ended, nothing failed; resume it. */
function isAbort(err: unknown): boolean {
  const name = (err as { name?: unknown } | undefined)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}
