import type { ProbeSpec, ProcessSpec } from '../../config/index.js';
import type { Clock, Logger } from '../../util/index.js';
import { abortError, describe, IllegalStateError, silentLogger, sleep } from '../../util/index.js';
import { createCheck } from './create-check.js';
import { INITIAL_STATUS, INITIAL_VERDICT, recordResult } from './probe-state.js';
import type { ProbeVerdict } from './probe-state.js';
import { runCheck } from './run-check.js';
import { Ticker } from './ticker.js';
import type { ProbeCheck, ProbeCheckResult, ProbeEvent, ProbeName, ProbeSetStatus, ProbeStatus, ProbeTarget } from './types.js';

/** Options of `ProbeSet`. */
export interface ProbeSetOptions {
  /** The process id; on every event and log line. */
  readonly id: string;
  /** The parsed spec's `probes`; an empty object gives a set that is started, live and ready at once. */
  readonly probes: ProcessSpec['probes'];
  /** The probed process's env and cwd (exec probes run with them). */
  readonly target: ProbeTarget;
  readonly clock: Clock;
  /** Default: `silentLogger`. */
  readonly logger?: Logger | undefined;
  /** Called on every flip (and a startup probe's first pass). Must not block; a throw is logged. */
  readonly onChange: (event: ProbeEvent) => void;
  /** Called after every check (for duration metrics). Must not block; a throw is logged. Default: none. */
  readonly onCheck?: ((result: ProbeCheckResult) => void) | undefined;
  /** Builds each probe's check once, at construction. Default: `createCheck`; tests script their own. */
  readonly checkFor?: ((spec: ProbeSpec, target: ProbeTarget) => ProbeCheck) | undefined;
  /** How long a check that ignores its abort is waited for before it is abandoned. Default: 2 000 ms. */
  readonly abandonAfterMs?: number | undefined;
  /**
   * Timer coalescing: a check's wait is moved to end on the nearest point of a grid of this many
   * ms (so by at most half of it), the grid being at most a quarter of the wait, so the checks of
   * many processes come due in the same event-loop turn instead of each waking the daemon on its
   * own. Nearest, not next: a check starts on a grid point and ends a little after it, so rounding
   * up would lengthen every interval by a whole grid; so an aligned probe keeps its phase, and the
   * move is a one-off, not a cost per interval. Default: 0 (exact waits).
   */
  readonly coalesceMs?: number | undefined;
  /** Shared with other sets on the same clock: waits (and check timeouts) that end together run from one timer. Default: one of its own. */
  readonly ticker?: Ticker | undefined;
}

/** `delayMs` from `now`, moved to end on the nearest grid point (see `coalesceMs`). */
export function coalescedDelay(now: number, delayMs: number, coalesceMs: number): number {
  const grid = Math.min(coalesceMs, Math.floor(delayMs / 4));
  if (grid <= 1) return delayMs;
  return Math.round((now + delayMs) / grid) * grid - now;
}

interface Slot {
  readonly name: ProbeName;
  readonly spec: ProbeSpec;
  readonly check: ProbeCheck;
  verdict: ProbeVerdict;
  status: ProbeStatus;
  /** A check has succeeded in this run: `interval` from now on, not `startInterval`. */
  succeeded: boolean;
}

const ORDER: readonly ProbeName[] = ['startup', 'liveness', 'readiness'];

/**
 * Runs one process's startup, liveness and readiness probes with the kubelet's semantics. The
 * supervisor creates one per process run, calls `start()` when the process has just started and
 * `stop()` when it stops or restarts, reads `status`, and restarts the process on a `failed`
 * startup or liveness event.
 *
 * Each probe waits `initialDelay` from `start()`, then checks, then waits `interval` after each
 * check finishes (one check in flight per probe; `startInterval` until a check first succeeds). Liveness and readiness do not check before the
 * startup probe has passed; their first check is then due at once if their delay is over. Once
 * passed, the startup probe stops for good.
 */
export class ProbeSet {
  readonly #id: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #onChange: (event: ProbeEvent) => void;
  readonly #onCheck: ((result: ProbeCheckResult) => void) | undefined;
  readonly #abandonAfterMs: number;
  readonly #coalesceMs: number;
  readonly #ticker: Ticker;
  readonly #slots = new Map<ProbeName, Slot>();
  readonly #controller = new AbortController();
  // At most one loop per probe over the set's life, so this never grows past three.
  readonly #loops: Promise<void>[] = [];
  #startedAt: number | undefined;
  #stopping: Promise<void> | undefined;

  constructor(opts: ProbeSetOptions) {
    this.#id = opts.id;
    this.#clock = opts.clock;
    this.#logger = opts.logger ?? silentLogger;
    this.#onChange = opts.onChange;
    this.#onCheck = opts.onCheck;
    this.#abandonAfterMs = opts.abandonAfterMs ?? 2_000;
    this.#coalesceMs = opts.coalesceMs ?? 0;
    this.#ticker = opts.ticker ?? new Ticker(this.#clock);
    const checkFor = opts.checkFor ?? createCheck;
    for (const name of ORDER) {
      const spec = opts.probes[name];
      if (spec === undefined) continue;
      this.#slots.set(name, { name, spec, check: checkFor(spec, opts.target), verdict: INITIAL_VERDICT[name], status: INITIAL_STATUS, succeeded: false });
    }
  }

  /** Begins probing; called once, by the supervisor, right after the process started. */
  start(): void {
    if (this.#stopping) throw new IllegalStateError(`probe set of "${this.#id}" is stopped`, { id: this.#id });
    if (this.#startedAt !== undefined) throw new IllegalStateError(`probe set of "${this.#id}" is already started`, { id: this.#id });
    this.#startedAt = this.#clock.now();
    if (this.#slots.has('startup')) this.#begin('startup');
    else this.#beginGated();
  }

  /** Stops every loop, aborts in-flight checks and resolves when they have settled. Idempotent; never rejects. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#controller.abort(abortError(`probes of "${this.#id}" stopped`));
      await Promise.all(this.#loops);
    })();
    return this.#stopping;
  }

  /** A snapshot for the supervisor's status and the API. */
  get status(): ProbeSetStatus {
    const startup = this.#slots.get('startup');
    const liveness = this.#slots.get('liveness');
    const readiness = this.#slots.get('readiness');
    const started = startup === undefined || startup.verdict === 'passed';
    const probes: Partial<Record<ProbeName, ProbeStatus>> = {};
    for (const [name, slot] of this.#slots) probes[name] = { ...slot.status };
    return {
      started,
      live: liveness === undefined || liveness.verdict !== 'failed',
      ready: readiness === undefined ? started : readiness.verdict === 'passed',
      probes,
    };
  }

  #beginGated(): void {
    if (this.#slots.has('liveness')) this.#begin('liveness');
    if (this.#slots.has('readiness')) this.#begin('readiness');
  }

  #begin(name: ProbeName): void {
    const slot = this.#slots.get(name);
    if (slot === undefined) return;
    const loop = this.#loop(slot).catch((err: unknown) => {
      // Only a bug in this file gets here; say so loudly rather than stop probing in silence.
      this.#logger.error({ process: this.#id, probe: name, err: describe(err) }, 'probe loop crashed');
    });
    this.#loops.push(loop);
  }

  async #loop(slot: Slot): Promise<void> {
    const signal = this.#controller.signal;
    const { spec } = slot;
    try {
      await sleep(this.#clock, (this.#startedAt ?? 0) + spec.initialDelay - this.#clock.now(), signal);
      for (;;) {
        const began = this.#clock.now();
        const result = await runCheck(slot.check, { clock: this.#clock, timeoutMs: spec.timeout, abandonAfterMs: this.#abandonAfterMs, signal, ticker: this.#ticker });
        if (signal.aborted) return;
        this.#reportCheck({ probe: slot.name, ok: result.ok, durationMs: this.#clock.now() - began });
        this.#record(slot, result.ok, result.message);
        if (slot.name === 'startup' && slot.verdict === 'passed') return;
        slot.succeeded ||= result.ok;
        const wait = slot.succeeded ? spec.interval : Math.min(spec.interval, spec.startInterval ?? spec.interval);
        const now = this.#clock.now();
        await this.#ticker.wait(now + coalescedDelay(now, wait, this.#coalesceMs), signal);
      }
    } catch (err) {
      // a wait rejects with the stop reason; that is the normal way out.
      if (!signal.aborted) throw err;
    }
  }

  #record(slot: Slot, ok: boolean, message: string): void {
    const { status, flip } = recordResult(slot.verdict, slot.status, { ok, message }, slot.spec, this.#clock.now());
    slot.status = status;
    if (flip === undefined) {
      if (!ok) this.#logger.debug({ process: this.#id, probe: slot.name, message }, `${slot.name} probe check failed`);
      return;
    }
    slot.verdict = flip;
    const log = flip === 'passed' ? this.#logger.info : this.#logger.warn;
    log.call(this.#logger, { process: this.#id, probe: slot.name, message }, `${slot.name} probe ${flip}`);
    this.#emit({ id: this.#id, probe: slot.name, result: flip, message });
    if (slot.name === 'startup' && flip === 'passed') this.#beginGated();
  }

  #reportCheck(result: ProbeCheckResult): void {
    try {
      this.#onCheck?.(result);
    } catch (err) {
      this.#logger.error({ process: this.#id, probe: result.probe, err: describe(err) }, 'probe onCheck handler threw');
    }
  }

  #emit(event: ProbeEvent): void {
    try {
      this.#onChange(event);
    } catch (err) {
      this.#logger.error({ process: this.#id, probe: event.probe, err: describe(err) }, 'probe onChange handler threw');
    }
  }
}
