import { jitteredBackoffMs, realClock, sleep, silentLogger, type Clock, type Logger, type TimerHandle } from '../util/index.js';
import { apiErrorFields, statusOf, type ProcessSetApi, type ProcessSetObject, type WatchEvent } from './api.js';
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
  /**
   * Retry delay after an error the server answered (429 and 5xx included) or a connection that
   * broke: base · 2^(n−1), capped, jittered ±25 %. Defaults 800 ms / 30 s, client-go's reflector.
   */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** The failure count is forgotten once this long passed without a failure. Default 2 min, client-go's reflector. */
  readonly backoffResetMs?: number;
  /**
   * Cap of the retry delay while no connection to the server can be made at all (refused, no
   * route, no address). Default 2 s, so a server that is back is used again within about that.
   */
  readonly unreachableMaxMs?: number;
  /**
   * A watch with no event, bookmark or reconnect for this long is presumed stuck (a silent
   * connection) and restarted from a fresh list. Default 6 min (the server ends a watch after 5 and
   * sends bookmarks meanwhile).
   */
  readonly watchdogMs?: number;
  readonly random?: () => number;
}

/**
 * Lists and watches one ProcessSet for as long as it runs, and owns its retries (client-go's
 * reflector): relist on 410 Gone; a watch that broke or could not connect resumes from its last
 * resourceVersion, so an API-server outage costs no relist; jittered backoff on errors and 429;
 * a watchdog for a silent watch. It never stops by itself; `lastProgressAt` (for `/healthz`)
 * tells when it last heard from the server.
 */
export class ProcessSetWatchLoop {
  readonly #o: WatchLoopOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;
  #lastProgressAt: number | undefined;
  /** Failures the server saw (answered, or a connection that broke), and when the last one was. */
  #failures = 0;
  #lastFailureAt = -Infinity;
  /** Tries in a row that reached no server at all. */
  #unreachable = 0;
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
    this.#unreachable = 0;
    this.#source.succeeded(this.#lastProgressAt, watched);
  }

  async #loop(): Promise<void> {
    const signal = this.#stop.signal;
    // Where the watch resumes; undefined: list first.
    let from: string | undefined;
    while (!signal.aborted) {
      try {
        if (from === undefined) {
          const { object, resourceVersion } = await this.#o.api.list(signal);
          this.stats.lists++;
          this.#progress(false);
          this.#o.onChange(object);
          from = resourceVersion;
        }
        const began = this.#clock.now();
        const end = await this.#watch(from, signal);
        // A 410 or the watchdog lists again; a watch the server closed in the normal way resumes from where it was.
        if (end.relist) {
          from = undefined;
          continue;
        }
        from = end.resourceVersion;
        // A server that closes watches at once must not turn this into a busy loop.
        if (this.#clock.now() - began < 1_000) await sleep(this.#clock, 1_000, signal).catch(() => undefined);
      } catch (err) {
        if (signal.aborted) break;
        this.stats.errors++;
        const status = statusOf(err);
        // Nothing we know of the set is wrong after a broken connection, a 429 or a 5xx: the watch
        // resumes where it was (a 410 then tells if that is too old). A refusal (403, 404) lists again.
        if (status !== undefined && status !== 429 && status < 500) from = undefined;
        const refused = this.#source.failed(err, this.#clock.now());
        if (refused) this.#o.onRefused?.(refused);
        const delay = this.#retryDelay(err);
        this.#log.warn({ ...apiErrorFields(err), retryInMs: Math.round(delay) }, status === 429 ? 'API server throttles us; backing off' : 'ProcessSet list/watch failed; retrying');
        await sleep(this.#clock, delay, signal).catch(() => undefined);
      }
    }
  }

  /**
   * The one place that decides how long to wait after a failure. The backoff spares a server
   * that is there but struggling, so it grows only with failures the server saw. A connection that
   * cannot be made costs no server anything: those tries stay at most `unreachableMaxMs` apart,
   * so the loop is back within about that once the server is (client-go's reflector waits up to
   * its full 30 s backoff there). When the server is reached again after such an outage, the
   * backoff starts over: the errors of a server that is starting up say nothing of its load.
   */
  #retryDelay(err: unknown): number {
    const base = this.#o.backoffBaseMs ?? 800;
    const random = this.#o.random ?? Math.random;
    if (isUnreachable(err)) {
      this.#unreachable++;
      return jitteredBackoffMs(this.#unreachable, { baseMs: base, maxMs: this.#o.unreachableMaxMs ?? 2_000, jitter: 0.5 }, random);
    }
    const now = this.#clock.now();
    if (this.#unreachable > 0 || now - this.#lastFailureAt > (this.#o.backoffResetMs ?? 120_000)) this.#failures = 0;
    this.#unreachable = 0;
    this.#lastFailureAt = now;
    this.#failures++;
    return jitteredBackoffMs(this.#failures, { baseMs: base, maxMs: this.#o.backoffMaxMs ?? 30_000, jitter: 0.5 }, random);
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
            } else finish(Object.assign(new Error(e.object.message ?? 'watch error'), { statusCode: e.object.code, reason: e.object.reason }));
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

/** Error codes (Node's and undici's) of a connection that was never made: no server saw the request. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** True when no connection to the server could be made (along the cause chain, and in an AggregateError of several addresses). */
export function isUnreachable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 8) return false;
  const { code, cause, errors } = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && NOT_CONNECTED.has(code)) return true;
  if (Array.isArray(errors) && errors.length > 0 && errors.every((e) => isUnreachable(e, depth + 1))) return true;
  return isUnreachable(cause, depth + 1);
}

/**
 * An abort, or a client-side inactivity timeout: the watch ended, nothing failed; resume it.
 * By name only, narrower than util's isAbortLike on purpose: an ETIMEDOUT connect (which
 * isAbortLike counts) is a failure the backoff must see, not a watch that ended.
 */
function isAbort(err: unknown): boolean {
  const name = (err as { name?: unknown } | undefined)?.name;
  return name === 'AbortError' || name === 'TimeoutError';
}
