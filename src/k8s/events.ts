import { createHash, randomBytes } from 'node:crypto';
import type { SupervisorEvent } from '../supervisor/index.js';
import { dateOf, realClock, silentLogger, type Clock, type Logger, type TimerHandle } from '../util/index.js';
import { apiErrorFields, statusOf, type InvolvedObject, type ProcessSetApi } from './api.js';

/** Options of `EventRecorder`; the defaults are client-go's event correlator's. */
export interface EventRecorderOptions {
  readonly api: ProcessSetApi;
  readonly involved: InvolvedObject;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Least time between two updates of one Event. Default 10 000 ms. */
  readonly aggregateMs?: number | undefined;
  /** Distinct messages of one type, reason and process within `similarWindowMs` that get an Event each; more are combined into one. Default 10. */
  readonly similarMax?: number | undefined;
  /** How long a group of similar events is remembered after its last one. Default 600 000 ms. */
  readonly similarWindowMs?: number | undefined;
  /** Most Events (and groups) remembered at once; the least recently seen is forgotten first. Default 4 096. */
  readonly maxSeries?: number | undefined;
}

/** Longest message written; longer ones are cut (events.k8s.io/v1 allows 1 KiB). */
export const EVENT_MESSAGE_MAX_CHARS = 1_024;
/** What a combined Event's message starts with, as the kubelet writes it. */
export const COMBINED_PREFIX = '(combined from similar events): ';

/** Similar events: one type, reason and process. Once `combined`, `messages` is no longer needed and stays empty. */
interface Group {
  readonly messages: Set<string>;
  combined: boolean;
  lastAt: number;
}

/** One Event in the API server and the count it has, or should have. */
interface Series {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  message: string;
  /** Set by a successful create. */
  name: string | undefined;
  count: number;
  written: number;
  readonly firstAt: number;
  lastAt: number;
  attempted: boolean;
  timer: TimerHandle | undefined;
  /** The last write; writes of one series run one after another. */
  chain: Promise<void>;
}

/** `map.get` that also marks `key` as the most recently used. */
function touch<V>(map: Map<string, V>, key: string): V | undefined {
  const v = map.get(key);
  if (v !== undefined) {
    map.delete(key);
    map.set(key, v);
  }
  return v;
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  if (/[\ud800-\udbff]/.test(text.charAt(end - 1))) end--; // never split a surrogate pair
  return `${text.slice(0, end)}…`;
}

/**
 * Kubernetes Events about the sidecar's processes, like the kubelet's (`Started`, `Killing`,
 * `BackOff`, `Unhealthy`, `Failed`), aggregated like client-go's event correlator. Events with
 * one type, reason and process are similar: the first `similarMax − 1` distinct messages within
 * `similarWindowMs` get an Event each, later ones go to one Event whose message starts with
 * "(combined from similar events)" and is the newest, so probe output that differs every check
 * does not make one Event per check. A repeated message raises its Event's `count`, written at
 * most once per `aggregateMs`. Memory is bounded: at most `maxSeries` Events and groups, least
 * recently seen forgotten first.
 */
export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #groups = new Map<string, Group>();
  readonly #series = new Map<string, Series>();
  /** Makes names unique per recorder, so a restarted sidecar never reuses an earlier run's. */
  readonly #run = randomBytes(4).toString('hex');
  #seq = 0;
  /** API calls made (for tests and the benchmark). */
  calls = 0;

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#log = options.logger ?? silentLogger;
  }

  /** How many Events and groups are remembered now (for tests). */
  get tracked(): { readonly series: number; readonly groups: number } {
    return { series: this.#series.size, groups: this.#groups.size };
  }

  /** The Event for a supervisor event, if it is one that Kubernetes users expect to see. */
  onSupervisorEvent(e: SupervisorEvent): void {
    switch (e.type) {
      case 'started':
        return this.record('Normal', 'Started', `Started process ${e.id}`, e.id);
      case 'state':
        if (e.to === 'Stopping') this.record('Normal', 'Killing', `Stopping process ${e.id}: ${e.reason}`, e.id);
        return;
      case 'backoff':
        return this.record('Warning', 'BackOff', `Back-off restarting failed process ${e.id}`, e.id);
      case 'probe':
        if (e.result === 'failed') this.record('Warning', 'Unhealthy', `${e.probe[0]?.toUpperCase() ?? ''}${e.probe.slice(1)} probe of ${e.id} failed: ${e.message}`, e.id);
        return;
      case 'spawnFailed':
        return this.record('Warning', 'Failed', `Process ${e.id} could not start: ${e.error.message}`, e.id);
      case 'breaker':
        if (e.state === 'open') this.record('Warning', 'BackOff', `Process ${e.id} keeps failing: restarts paused (circuit breaker open)`, e.id);
        return;
      default:
        return;
    }
  }

  /**
   * Records one occurrence. `subject` (a process id) plays the part of the kubelet's
   * `involvedObject.fieldPath`: events of different processes are never combined.
   */
  record(type: 'Normal' | 'Warning', reason: string, message: string, subject = ''): void {
    const now = this.#clock.now();
    const text = cut(message, EVENT_MESSAGE_MAX_CHARS - COMBINED_PREFIX.length);
    const groupKey = `${type}\0${reason}\0${subject}`;
    let g = touch(this.#groups, groupKey);
    if (g === undefined || now - g.lastAt > (this.#o.similarWindowMs ?? 600_000)) {
      g = { messages: new Set(), combined: false, lastAt: now };
      this.#remember(this.#groups, groupKey, g);
    }
    g.lastAt = now;
    // A digest, not the message: a group holds up to `similarMax` of them.
    const digest = createHash('sha256').update(text).digest('base64');
    if (!g.combined) {
      g.messages.add(digest);
      if (g.messages.size >= (this.#o.similarMax ?? 10)) {
        g.combined = true;
        g.messages.clear();
      }
    }
    const key = g.combined ? `${groupKey}\0*` : `${groupKey}\0${digest}`;
    let s = touch(this.#series, key);
    if (s === undefined) {
      s = { type, reason, message: text, name: undefined, count: 0, written: 0, firstAt: now, lastAt: now, attempted: false, timer: undefined, chain: Promise.resolve() };
      this.#remember(this.#series, key, s);
    }
    s.message = g.combined ? `${COMBINED_PREFIX}${text}` : text;
    s.count++;
    s.lastAt = now;
    this.#schedule(s);
  }

  /**
   * Writes every pending count now (at shutdown). With `signal`, it resolves when the signal
   * aborts even if the API server never answers; the calls in flight are left to finish or fail.
   */
  async flush(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    const writes = [...this.#series.values()]
      .filter((s) => s.timer !== undefined || s.count !== s.written)
      .map((s) => {
        s.timer?.cancel();
        s.timer = undefined;
        return this.#enqueue(s);
      });
    const all = Promise.all(writes).then(() => undefined);
    const { signal } = options;
    if (signal === undefined) return all;
    if (signal.aborted) return;
    let onAbort: (() => void) | undefined;
    try {
      await Promise.race([all, new Promise<void>((resolve) => signal.addEventListener('abort', (onAbort = () => resolve()), { once: true }))]);
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Adds `key` as the most recently used, forgetting the least recently used past `maxSeries`. */
  #remember<V extends Group | Series>(map: Map<string, V>, key: string, value: V): void {
    map.set(key, value);
    const max = Math.max(1, this.#o.maxSeries ?? 4_096);
    for (const [oldest, v] of map) {
      if (map.size <= max) break;
      map.delete(oldest);
      // A count not yet written is lost with it, as in client-go's LRU.
      if ('timer' in v) v.timer?.cancel();
    }
  }

  #schedule(s: Series): void {
    if (!s.attempted) {
      s.attempted = true;
      void this.#enqueue(s);
      return;
    }
    // Repeats, and retries of a failed create, wait: at most one call per series per `aggregateMs`.
    s.timer ??= this.#clock.setTimer(() => {
      s.timer = undefined;
      void this.#enqueue(s);
    }, this.#o.aggregateMs ?? 10_000);
  }

  #enqueue(s: Series): Promise<void> {
    s.chain = s.chain.then(() => this.#send(s));
    return s.chain;
  }

  /** Brings the Event up to date; never rejects. */
  async #send(s: Series): Promise<void> {
    const count = s.count;
    if (s.name !== undefined && count === s.written) return;
    const creating = s.name === undefined;
    try {
      if (s.name === undefined) await this.#create(s, count);
      else {
        try {
          this.calls++;
          await this.#o.api.patchEvent(s.name, { count, lastTimestamp: dateOf(s.lastAt), message: s.message });
        } catch (err) {
          // The API server forgets Events after an hour (--event-ttl): start a new one, as client-go does.
          if (statusOf(err) !== 404) throw err;
          await this.#create(s, count);
        }
      }
      s.written = Math.max(s.written, count);
    } catch (err) {
      this.#log.warn({ ...apiErrorFields(err), event: s.reason }, creating ? 'creating a Kubernetes Event failed' : 'recording a Kubernetes Event failed');
    }
  }

  async #create(s: Series, count: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const name = this.#newName();
      this.calls++;
      try {
        const body = { type: s.type, reason: s.reason, message: s.message, count, firstTimestamp: dateOf(s.firstAt), lastTimestamp: dateOf(s.lastAt) };
        await this.#o.api.createEvent(name, this.#o.involved, body);
        s.name = name;
        return;
      } catch (err) {
        // 409 AlreadyExists: someone else's Event has this name (another replica on the same object); take the next.
        if (statusOf(err) !== 409 || attempt >= 2) throw err;
      }
    }
  }

  /** `<involved name>.<run><seq>`, cut so it stays a valid name (at most 253 characters). */
  #newName(): string {
    const suffix = `.${this.#run}${(this.#seq++).toString(16)}`;
    const base = this.#o.involved.name.slice(0, 253 - suffix.length).replace(/[.-]+$/, '');
    return `${base}${suffix}`;
  }
}
