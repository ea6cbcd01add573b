import type { Clock } from '../util/index.js';
import type { ProcessRecord } from './record.js';
import { TimerQueue } from './timer-queue.js';

/** What `WorkQueue` needs from its owner. */
export interface WorkQueueOptions<C> {
  readonly clock: Clock;
  /** Runs engine code from a timer or microtask, failing the engine on a throw. */
  readonly guard: (fn: () => void) => void;
  /** Starts the next call for a record with none in flight. */
  readonly dispatch: (rec: ProcessRecord<C>) => void;
  /** A record's resync, backoff or retry delay is over. */
  readonly due: (rec: ProcessRecord<C>) => void;
}

/**
 * What runs next (the kubelet's work queue): records runnable now, dispatched together from one
 * microtask, and records waiting for a delay, behind one timer. A record with a call in flight
 * is not dispatched; it runs again when its call settles, never in parallel.
 *
 * Internal: owned by the Engine, which is the only caller.
 */
export class WorkQueue<C> {
  readonly #o: WorkQueueOptions<C>;
  readonly #runnable = new Set<ProcessRecord<C>>();
  readonly #waiting: TimerQueue<ProcessRecord<C>>;
  #drainScheduled = false;
  #closed = false;
  readonly #drainBound = (): void => this.#o.guard(() => this.#drain());

  constructor(o: WorkQueueOptions<C>) {
    this.#o = o;
    this.#waiting = new TimerQueue(o.clock, (rec) => o.guard(() => o.due(rec)));
  }

  /** Records waiting for a delay. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** When `rec`'s delay is over, if it is waiting. */
  readyAt(rec: ProcessRecord<C>): number | undefined {
    return this.#waiting.readyAt(rec);
  }

  /**
   * Dispatches `rec` from a microtask: syncer code never runs on the caller's stack, and updates
   * given in one tick are coalesced (latest wins) before a worker sees them.
   */
  runNow(rec: ProcessRecord<C>): void {
    if (rec.finishedAt !== undefined || this.#closed) return;
    this.#runnable.add(rec);
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    queueMicrotask(this.#drainBound);
  }

  /** Makes `rec` due after `delayMs`, unless it is due earlier already. */
  runAfter(rec: ProcessRecord<C>, delayMs: number): void {
    if (!this.#closed) this.#waiting.add(rec, delayMs);
  }

  /** Drops whatever `rec` is queued for. */
  forget(rec: ProcessRecord<C>): void {
    this.#runnable.delete(rec);
    this.#waiting.delete(rec);
  }

  /** Drops everything, for good; the timer with it. */
  close(): void {
    this.#closed = true;
    this.#runnable.clear();
    this.#waiting.clear();
  }

  #drain(): void {
    this.#drainScheduled = false;
    for (const rec of this.#runnable) {
      this.#runnable.delete(rec);
      if (!rec.call) {
        this.#waiting.delete(rec);
        this.#o.dispatch(rec);
      }
    }
  }
}
