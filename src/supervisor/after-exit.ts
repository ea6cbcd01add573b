import type { ProcessSpec, RestartSpec } from '../config/index.js';
import { canonicalJson } from '../util/index.js';
import type { ExitInfo } from './handle.js';
import { CircuitBreaker, isFailure, restartDelayMs, shouldRestart, type BreakerStatus, type RunEnd } from './restart-policy.js';
import type { RuntimeState } from './state-machine.js';

/*
 * The restart policy applied to one process: what follows an exit, the credit of a healthy run,
 * the restart delay and the breaker. The runtime records what happened; this decides what it means.
 */

/**
 * Why the next start is a restart. `unexpected`: the last run ended without anyone asking (it
 * exited, crashed, failed its liveness probe, broke a limit, or was found dead at reattach): what
 * `restarts` counts and alerts watch. `requested`: someone asked (restart, a changed spec, stop
 * then start, a rerun of a finished job): counted in `requestedRestarts`.
 */
export type RestartCause = 'unexpected' | 'requested';

/** What follows an exit procmgr did not ask for (or a probe/limit end). */
export type ExitVerdict =
  | { readonly restart: false; readonly state: RuntimeState; readonly how: string }
  | { readonly restart: true; readonly quick: boolean; readonly how: string };

/** Decides what follows the end of a run (`reason`: procmgr's, when it ended it). The one place that applies the restart policy. */
export function judgeExit(spec: ProcessSpec, run: { readonly exit: ExitInfo; readonly startedAt: number }, reason: string | undefined): ExitVerdict {
  const { exit } = run;
  const end: RunEnd = { code: exit.code, signal: exit.signal, reason };
  const failed = isFailure(end);
  const how = reason ?? (exit.signal ? `killed by ${exit.signal}` : exit.code === null ? 'exited' : `exit code ${exit.code}`);
  if (spec.kind === 'unmanaged' || !shouldRestart(spec.restart.policy, end)) return { restart: false, state: failed && spec.kind === 'managed' ? 'Failed' : 'Stopped', how };
  // A quick exit is a crash even with code 0: a service that keeps exiting is in a loop either way.
  return { restart: true, quick: failed || exit.at - run.startedAt < spec.restart.resetAfter, how };
}

/**
 * The restart bookkeeping of one process: quick failures in a row, the next start time, the
 * breaker and the current run's healthy credit. Owned by its runtime; `onBreaker` hears every
 * change of the breaker's state.
 */
export class RestartBook {
  #failures = 0;
  #nextStartAt: number | undefined;
  #breaker: CircuitBreaker | undefined;
  #breakerSpec: string | undefined;
  /** When the current run was credited as healthy; undefined until it lasts `resetAfter`. */
  #healthyAt: number | undefined;
  readonly #onBreaker: (status: BreakerStatus) => void;

  constructor(onBreaker: (status: BreakerStatus) => void) {
    this.#onBreaker = onBreaker;
  }

  /** Quick exits in a row: the restart delay grows with it; a healthy run resets it. */
  get failures(): number {
    return this.#failures;
  }

  get nextStartAt(): number | undefined {
    return this.#nextStartAt;
  }

  get healthy(): boolean {
    return this.#healthyAt !== undefined;
  }

  breakerStatus(now: number): BreakerStatus | undefined {
    return this.#breaker?.status(now);
  }

  /** When the next start may happen: after the restart delay and an open breaker's cooldown. */
  allowedAt(now: number): number {
    return Math.max(this.#nextStartAt ?? now, this.#breaker?.allowedAt(now) ?? now);
  }

  /** A spec was applied: a new breaker when its breaker settings changed (or `fresh`: an operator's start overrides an open one). */
  useSpec(restart: RestartSpec, opts: { fresh?: boolean } = {}): void {
    const key = canonicalJson(restart.breaker);
    if (!opts.fresh && this.#breaker && key === this.#breakerSpec) return;
    this.#breaker = new CircuitBreaker(restart.breaker);
    this.#breakerSpec = key;
  }

  /** A run began: its credit starts over and the wait for it is over. */
  runBegan(): void {
    this.#healthyAt = undefined;
    this.forget('delay');
  }

  /** A start is due: a half-open breaker is announced (its trial run). */
  startDue(now: number): void {
    const s = this.#breaker?.status(now);
    if (s?.state === 'halfOpen') this.#onBreaker(s);
  }

  /** Records an exit the policy restarts after; returns the wait before the next start. */
  exited(restart: RestartSpec, quick: boolean, now: number): number {
    if (quick) {
      this.#failures++;
      if (this.#breaker?.failure(now)) this.#announce(now);
    }
    this.#nextStartAt = Math.max(now + restartDelayMs(restart, this.#failures), this.#breaker?.allowedAt(now) ?? now);
    return this.#nextStartAt - now;
  }

  /** The run has been healthy for `resetAfter` (counted once per run): the delay starts over and a half-open breaker closes. */
  creditHealthy(now: number): void {
    if (this.#healthyAt !== undefined) return;
    this.#healthyAt = now;
    this.forget('failures');
    if (this.#breaker?.success(now)) this.#announce(now);
  }

  /** The one place the failure count and the restart time are reset: `delay` waives the wait, `failures` the count, `all` both. */
  forget(what: 'delay' | 'failures' | 'all'): void {
    if (what !== 'failures') this.#nextStartAt = undefined;
    if (what !== 'delay') this.#failures = 0;
  }

  #announce(now: number): void {
    const s = this.#breaker?.status(now);
    if (s) this.#onBreaker(s);
  }
}
