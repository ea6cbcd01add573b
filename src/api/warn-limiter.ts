import type { Clock, Logger } from '../util/index.js';

/**
 * Logs refused requests as warnings, at most `burst` per `windowMs`: a flood of hostile requests
 * must not become a flood of log lines. The first warning after a quiet spell says how many were
 * left out. Owned by one server.
 */
export class WarnLimiter {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #burst: number;
  readonly #windowMs: number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #inWindow = 0;
  #suppressed = 0;

  constructor(opts: { readonly logger: Logger; readonly clock: Clock; readonly burst?: number; readonly windowMs?: number }) {
    this.#logger = opts.logger;
    this.#clock = opts.clock;
    this.#burst = opts.burst ?? 20;
    this.#windowMs = opts.windowMs ?? 60_000;
  }

  /** Logs `msg` with `fields` unless this window's burst is spent (then it is only counted). */
  warn(fields: Record<string, unknown>, msg: string): void {
    const now = this.#clock.now();
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= this.#burst) {
      this.#suppressed += 1;
      return;
    }
    this.#inWindow += 1;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#logger.warn(suppressed > 0 ? { ...fields, suppressedBefore: suppressed } : fields, msg);
  }
}
