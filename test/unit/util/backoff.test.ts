import { describe, expect, it } from 'vitest';
import { exponentialBackoffMs, jitter, jitteredBackoffMs } from '../../../src/util/index.js';
import { seededRandom } from '../../helpers/seeded-random.js';

// The Go suite's ExponentialBackoff and Jitter range tables.
describe('ExponentialBackoff', () => {
  it.each([
    [0, 1_000],
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [4, 8_000],
    [6, 32_000],
    [7, 60_000],
    [100, 60_000],
    [10_000, 60_000],
    [-5, 1_000],
    [Number.NaN, 1_000],
  ])('attempt %d → %d ms (base 1 s, max 60 s)', (attempt, expected) => {
    expect(exponentialBackoffMs(attempt, 1_000, 60_000)).toBe(expected);
  });

  it.each([
    [1, 0, 60_000, 0],
    [5, 100, 0, 0],
    [3, Number.POSITIVE_INFINITY, 60_000, 0],
  ])('degenerate inputs attempt=%d base=%d max=%d → %d', (attempt, base, max, expected) => {
    expect(exponentialBackoffMs(attempt, base, max)).toBe(expected);
  });
});

describe('Jitter', () => {
  it.each([
    // ms, factor, random, expected
    [1_000, 0.5, 0, 750],
    [1_000, 0.5, 0.5, 1_000],
    [1_000, 0.5, 0.999_999, 1_249.999_5],
    [1_000, 0, 0.9, 1_000],
    [1_000, 2, 0, 0],
    [1_000, 5, 0, 0], // factor clamped to 2: never negative
    [0, 0.5, 0.9, 0],
    [-10, 0.5, 0.9, 0],
  ])('jitter(%d, %d) with random %d → %d', (ms, factor, r, expected) => {
    expect(jitter(ms, factor, () => r)).toBeCloseTo(expected, 3);
  });

  it('stays within ±factor/2 over many draws', () => {
    const random = seededRandom(42);
    for (let i = 0; i < 10_000; i++) {
      const d = jitter(1_000, 0.5, random);
      expect(d).toBeGreaterThanOrEqual(750);
      expect(d).toBeLessThan(1_250);
    }
  });

  it('jittered backoff never exceeds the cap', () => {
    for (const r of [0, 0.5, 0.999]) expect(jitteredBackoffMs(50, { baseMs: 1_000, maxMs: 60_000, jitter: 0.5 }, () => r)).toBeLessThanOrEqual(60_000);
  });
});
