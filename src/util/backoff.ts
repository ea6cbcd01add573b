/**
 * Retry arithmetic, kept pure so the tables in the tests can pin it down.
 */

/** A source of uniform numbers in [0, 1); injected so tests are deterministic. */
export type Random = () => number;

// 2^52 · base still fits a double exactly; any larger exponent is past every sane cap anyway.
// Clamping the exponent (not the product) is what keeps attempt 10 000 from becoming Infinity or NaN.
const MAX_EXPONENT = 52;

/**
 * `baseMs · 2^(attempt-1)` capped at `maxMs`. Attempts below 1 (and NaN) count as 1; the result is
 * never negative, never NaN, never above `maxMs`.
 */
export function exponentialBackoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const base = Math.max(0, finiteOr(baseMs, 0));
  const max = Math.max(0, finiteOr(maxMs, 0));
  const n = Number.isFinite(attempt) ? Math.floor(attempt) : attempt > 0 ? MAX_EXPONENT + 1 : 1;
  const exponent = Math.min(Math.max(n - 1, 0), MAX_EXPONENT);
  return Math.min(base * 2 ** exponent, max);
}

/**
 * Spreads `ms` uniformly over `ms · (1 ± factor/2)`: factor 0.5 gives ±25 %, as the Go original did.
 * Factor is clamped to [0, 2] so the result is never negative.
 */
export function jitter(ms: number, factor: number, random: Random): number {
  const f = Math.min(Math.max(finiteOr(factor, 0), 0), 2);
  if (f === 0 || ms <= 0) return Math.max(0, ms);
  const r = random();
  return Math.max(0, ms * (1 + f * (r - 0.5)));
}

/** Exponential backoff followed by jitter, still never above `maxMs`. */
export function jitteredBackoffMs(
  attempt: number,
  opts: { readonly baseMs: number; readonly maxMs: number; readonly jitter: number },
  random: Random,
): number {
  return Math.min(jitter(exponentialBackoffMs(attempt, opts.baseMs, opts.maxMs), opts.jitter, random), opts.maxMs);
}

function finiteOr(n: number, fallback: number): number {
  return Number.isFinite(n) ? n : fallback;
}
