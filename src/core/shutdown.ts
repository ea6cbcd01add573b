import { ShutdownTimeoutError, type TimerHandle } from '../util/index.js';
import type { Engine } from './engine.js';
import type { ShutdownOptions, ShutdownResult } from './types.js';

/**
 * One shutdown of an engine (DESIGN §3 rule 9): terminate every live process with its grace,
 * wait until all are Finished, and force-stop what is left at the deadline. The promise always
 * settles: without a caller's deadline, an implicit one applies (the largest grace period plus
 * the terminating slack plus one call timeout), so a syncer that can never stop a process
 * cannot hang shutdown. Later `shutdown()` calls may only tighten the deadline or add a signal.
 *
 * Internal: constructed once by ProcessManager.shutdown.
 */
export class ShutdownRun<C> {
  readonly promise: Promise<ShutdownResult>;
  readonly #engine: Engine<C>;
  #resolve!: (r: ShutdownResult) => void;
  #reject!: (e: unknown) => void;
  #done = false;
  #timer: TimerHandle | undefined;
  #deadlineAt = Number.POSITIVE_INFINITY;
  readonly #signals = new Set<AbortSignal>();
  readonly #terminated: string[];
  readonly #force = (): void => this.#forceStop();

  constructor(engine: Engine<C>, options: ShutdownOptions) {
    this.#engine = engine;
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#terminated = [...engine.processes.values()].filter((r) => r.finishedAt === undefined).map((r) => r.id);
    const idle = (): void => (engine.failure ? this.#forceStop() : this.#finish());
    engine.beginShutdown(idle);
    if (engine.liveCount === 0 || engine.failure) {
      idle(); // nothing was live, or all finished on the spot (B9); both are idempotent
      return;
    }
    const s = engine.settings;
    let maxGrace = 0;
    for (const rec of engine.processes.values()) maxGrace = Math.max(maxGrace, rec.gracePeriodMs ?? 0);
    this.tighten({ deadlineMs: maxGrace + s.terminatingSlackMs + s.callTimeoutMs });
    this.tighten(options);
  }

  /** Applies a (later) caller's deadline or signal if it ends the wait sooner. */
  tighten(options: ShutdownOptions): void {
    if (this.#done) return;
    const { signal, deadlineMs } = options;
    if (signal?.aborted || deadlineMs === 0) return this.#forceStop();
    if (signal && !this.#signals.has(signal)) {
      this.#signals.add(signal);
      signal.addEventListener('abort', this.#force, { once: true });
    }
    const clock = this.#engine.settings.clock;
    if (deadlineMs !== undefined && clock.now() + deadlineMs < this.#deadlineAt) {
      this.#deadlineAt = clock.now() + deadlineMs;
      this.#timer?.cancel();
      this.#timer = clock.setTimer(this.#force, deadlineMs);
    }
  }

  #forceStop(): void {
    if (this.#done) return;
    if (this.#engine.failure) return this.#finish(this.#engine.failure);
    const forced = this.#engine.forceStop();
    this.#finish(forced.length > 0 ? new ShutdownTimeoutError(forced) : undefined);
  }

  #finish(err?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#timer?.cancel();
    for (const s of this.#signals) s.removeEventListener('abort', this.#force);
    this.#engine.endShutdown();
    if (err !== undefined) return this.#reject(err);
    this.#resolve({ terminated: this.#terminated });
  }
}
