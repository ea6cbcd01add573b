import { createHash } from 'node:crypto';
import type { SupervisorEvent } from '../supervisor/index.js';
import { dateOf, realClock, silentLogger, type Clock, type Logger, type TimerHandle } from '../util/index.js';
import type { InvolvedObject, ProcessSetApi } from './api.js';

/** Options of `EventRecorder`. */
export interface EventRecorderOptions {
  readonly api: ProcessSetApi;
  readonly involved: InvolvedObject;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Least time between two updates of one aggregated Event. Default 10 000 ms. */
  readonly aggregateMs?: number | undefined;
}

interface Series {
  readonly name: string;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  count: number;
  written: number;
  lastAt: number;
  created: Promise<boolean> | undefined;
  timer: TimerHandle | undefined;
}

/**
 * Kubernetes Events about the sidecar's processes, like the kubelet's (`Started`, `Killing`,
 * `BackOff`, `Unhealthy`, `Failed`). Events with the same type, reason and message form one
 * series: the first is created, repeats only raise its `count`, written at most once per
 * `aggregateMs`. A crash loop is one Event with a growing count, not hundreds. Messages carry no
 * pids or times for that reason.
 */
export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #series = new Map<string, Series>();
  /** API calls made (for tests and the benchmark). */
  calls = 0;

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#log = options.logger ?? silentLogger;
  }

  /** The Event for a supervisor event, if it is one that Kubernetes users expect to see. */
  onSupervisorEvent(e: SupervisorEvent): void {
    switch (e.type) {
      case 'started':
        return this.record('Normal', 'Started', `Started process ${e.id}`);
      case 'state':
        if (e.to === 'Stopping') this.record('Normal', 'Killing', `Stopping process ${e.id}: ${e.reason}`);
        return;
      case 'backoff':
        return this.record('Warning', 'BackOff', `Back-off restarting failed process ${e.id}`);
      case 'probe':
        if (e.result === 'failed') this.record('Warning', 'Unhealthy', `${e.probe[0]?.toUpperCase() ?? ''}${e.probe.slice(1)} probe of ${e.id} failed: ${e.message}`);
        return;
      case 'spawnFailed':
        return this.record('Warning', 'Failed', `Process ${e.id} could not start: ${e.error.message}`);
      case 'breaker':
        if (e.state === 'open') this.record('Warning', 'BackOff', `Process ${e.id} keeps failing: restarts paused (circuit breaker open)`);
        return;
      default:
        return;
    }
  }

  record(type: 'Normal' | 'Warning', reason: string, message: string): void {
    const key = `${type}\0${reason}\0${message}`;
    const now = this.#clock.now();
    let s = this.#series.get(key);
    if (!s) {
      const hash = createHash('sha256').update(key).digest('hex').slice(0, 10);
      s = { name: `${this.#o.involved.name}.${hash}`, type, reason, message, count: 0, written: 0, lastAt: now, created: undefined, timer: undefined };
      this.#series.set(key, s);
    }
    s.count++;
    s.lastAt = now;
    this.#flushSoon(s);
  }

  /** Writes every pending count now (at shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.#series.values()].map(async (s) => {
      s.timer?.cancel();
      s.timer = undefined;
      await this.#write(s);
    }));
  }

  #flushSoon(s: Series): void {
    if (s.created === undefined) {
      void this.#write(s);
      return;
    }
    s.timer ??= this.#clock.setTimer(() => {
      s.timer = undefined;
      void this.#write(s);
    }, this.#o.aggregateMs ?? 10_000);
  }

  async #write(s: Series): Promise<void> {
    const first = s.created === undefined;
    const count = s.count;
    if (!first && (await s.created) && count === s.written) return;
    try {
      if (first) {
        s.created = this.#create(s, count);
        if (await s.created) s.written = count;
      } else if (await s.created) {
        this.calls++;
        await this.#o.api.patchEvent(s.name, { count, lastTimestamp: dateOf(s.lastAt), message: s.message });
        s.written = Math.max(s.written, count);
      }
    } catch (err) {
      this.#log.warn({ reason: s.reason, err: err instanceof Error ? err.message : String(err) }, 'recording a Kubernetes Event failed');
    }
  }

  async #create(s: Series, count: number): Promise<boolean> {
    this.calls++;
    try {
      const at = dateOf(s.lastAt);
      await this.#o.api.createEvent(s.name, this.#o.involved, { type: s.type, reason: s.reason, message: s.message, count, firstTimestamp: at, lastTimestamp: at });
      return true;
    } catch (err) {
      this.#log.warn({ reason: s.reason, err: err instanceof Error ? err.message : String(err) }, 'creating a Kubernetes Event failed');
      s.created = undefined; // the next occurrence tries to create it again
      return false;
    }
  }
}
