import type { RestartSpec } from '../config/index.js';

/** How a run ended, as far as the restart policy cares. */
export interface RunEnd {
  /** Exit code, or null when killed by a signal or unknown (a reattached process). */
  readonly code: number | null;
  readonly signal: string | null;
  /** Set when procmgr itself ended the run (liveness, resource limit): always a failure. */
  readonly reason?: string | undefined;
}

/** A run failed unless it exited 0 by itself. An unknown end (reattached process) counts as a failure. */
export function isFailure(end: RunEnd): boolean {
  return end.reason !== undefined || end.signal !== null || end.code !== 0;
}

/** Whether the policy restarts after this end. `unless-stopped` differs from `always` only for explicit stops. */
export function shouldRestart(policy: RestartSpec['policy'], end: RunEnd): boolean {
  switch (policy) {
    case 'never':
      return false;
    case 'on-failure':
      return isFailure(end);
    case 'always':
    case 'unless-stopped':
      return true;
  }
}

/**
 * The restart delay after `failures` quick exits in a row (1 = the first): `delay·multiplier^(n-1)`,
 * capped at `maxDelay`, overflow-safe. No jitter: restart delays are per process and predictable.
 */
export function restartDelayMs(spec: Pick<RestartSpec, 'delay' | 'multiplier' | 'maxDelay'>, failures: number): number {
  if (failures <= 0 || spec.delay === 0) return 0;
  const exp = Math.min(failures - 1, 1_000);
  const raw = spec.delay * spec.multiplier ** exp;
  return Number.isFinite(raw) ? Math.min(raw, spec.maxDelay) : spec.maxDelay;
}

/** `closed`: restarts allowed. `open`: none until the cooldown ends. `halfOpen`: one trial run allowed. */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

/** What the breaker reports for status and events. */
export interface BreakerStatus {
  readonly state: BreakerState;
  /** Failures inside the current window. */
  readonly failures: number;
  /** When an open breaker lets one trial through. */
  readonly openUntil: number | undefined;
}

/**
 * Circuit breaker over failed runs: `maxFailures` within `window` opens it for `cooldown`; then one
 * trial run (half-open); the trial's success closes it, its failure opens it again. HSU's breaker
 * has no half-open state: it stays open for the cooldown and then forgets, so a broken process
 * gets a full burst of restarts every cooldown. Here it gets one.
 */
export class CircuitBreaker {
  #failures: number[] = [];
  #state: BreakerState = 'closed';
  #openUntil: number | undefined;

  constructor(private readonly spec: { readonly maxFailures: number; readonly window: number; readonly cooldown: number }) {}

  /** The state at `now` (an open breaker past its cooldown reads as half-open). */
  state(now: number): BreakerState {
    if (this.#state === 'open' && this.#openUntil !== undefined && now >= this.#openUntil) this.#state = 'halfOpen';
    return this.#state;
  }

  status(now: number): BreakerStatus {
    const state = this.state(now);
    return { state, failures: this.#failures.length, openUntil: state === 'open' ? this.#openUntil : undefined };
  }

  /** When a start is allowed: `now`, or the end of the cooldown. */
  allowedAt(now: number): number {
    return this.state(now) === 'open' ? (this.#openUntil ?? now) : now;
  }

  /** Records a failed run. Returns true when this failure opened the breaker. */
  failure(now: number): boolean {
    if (this.spec.maxFailures === 0) return false;
    const state = this.state(now);
    if (state === 'halfOpen') return this.open(now);
    this.#failures = this.#failures.filter((t) => now - t < this.spec.window);
    this.#failures.push(now);
    return state === 'closed' && this.#failures.length >= this.spec.maxFailures ? this.open(now) : false;
  }

  /** Records a healthy run (it lasted `resetAfter`): closes a half-open breaker and forgets the failures. */
  success(now: number): boolean {
    const wasHalfOpen = this.state(now) === 'halfOpen';
    this.#failures = [];
    if (this.#state !== 'open') this.#state = 'closed';
    return wasHalfOpen;
  }

  private open(now: number): boolean {
    this.#state = 'open';
    this.#openUntil = now + this.spec.cooldown;
    this.#failures = [];
    return true;
  }
}
