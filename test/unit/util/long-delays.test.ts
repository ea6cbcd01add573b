import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, RealClock } from '../../../src/util/index.js';

// Node turns a setTimeout past 2³¹−1 ms into 1 ms; vitest's fake timers do the same, so these
// tests fail on a clock that hands such delays to one timer.
afterEach(() => {
  vi.useRealTimers();
});

describe('RealClock: any finite delay', () => {
  it.each([MAX_TIMER_MS, MAX_TIMER_MS + 1, 600 * 3_600_000, 3e9, 3 * MAX_TIMER_MS + 17])('fires after %d ms, not before', (delay) => {
    vi.useFakeTimers();
    const fired: number[] = [];
    new RealClock().setTimer(() => fired.push(Date.now()), delay);
    const start = Date.now();
    vi.advanceTimersByTime(Math.min(delay - 1, 1_000));
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(delay - 1 - Math.min(delay - 1, 1_000));
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([start + delay]);
  });

  it('cancels a chained timer in any hop; 0, negative and NaN are 0; Infinity never fires', () => {
    vi.useFakeTimers();
    const clock = new RealClock();
    const fired: string[] = [];
    const long = clock.setTimer(() => fired.push('long'), 2 * MAX_TIMER_MS + 5);
    vi.advanceTimersByTime(MAX_TIMER_MS + 1);
    long.cancel();
    clock.setTimer(() => fired.push('zero'), 0);
    clock.setTimer(() => fired.push('negative'), -5);
    clock.setTimer(() => fired.push('nan'), Number.NaN);
    clock.setTimer(() => fired.push('never'), Number.POSITIVE_INFINITY);
    vi.advanceTimersByTime(0);
    expect(fired).toEqual(['zero', 'negative', 'nan']);
    vi.advanceTimersByTime(3 * MAX_TIMER_MS);
    expect(fired).toEqual(['zero', 'negative', 'nan']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
