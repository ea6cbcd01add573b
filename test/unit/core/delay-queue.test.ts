import { describe, expect, it } from 'vitest';
import { DelayQueue, TimerQueue } from '../../../src/core/index.js';
import { FakeClock } from '../../../src/util/index.js';

function drain<K>(q: DelayQueue<K>, now: number): K[] {
  const out: K[] = [];
  for (let k = q.pop(now); k !== undefined; k = q.pop(now)) out.push(k);
  return out;
}

// The Go suite's work-queue scenarios.
describe('DelayQueue', () => {
  it('EnqueueDequeue', () => {
    const q = new DelayQueue<string>();
    q.add('a', 0);
    expect(q.size).toBe(1);
    expect(q.pop(0)).toBe('a');
    expect(q.size).toBe(0);
    expect(q.pop(0)).toBeUndefined();
  });

  it('DelayedDequeue', () => {
    const q = new DelayQueue<string>();
    q.add('a', 100);
    expect(q.pop(99)).toBeUndefined();
    expect(q.peekReadyAt()).toBe(100);
    expect(q.pop(100)).toBe('a');
  });

  it('MultipleItems', () => {
    const q = new DelayQueue<string>();
    q.add('c', 30);
    q.add('a', 10);
    q.add('b', 20);
    q.add('a2', 10); // same time: insertion order
    expect(drain(q, 15)).toEqual(['a', 'a2']);
    expect(drain(q, 100)).toEqual(['b', 'c']);
  });

  it('UpdateEarlierTime', () => {
    const q = new DelayQueue<string>();
    q.add('a', 100);
    q.add('b', 50);
    expect(q.add('a', 10)).toBe(true);
    expect(q.size).toBe(2);
    expect(drain(q, 20)).toEqual(['a']);
    expect(drain(q, 100)).toEqual(['b']); // no stale duplicate of 'a' surfaces
  });

  it('UpdateLaterTime', () => {
    const q = new DelayQueue<string>();
    q.add('a', 10);
    expect(q.add('a', 100)).toBe(false); // a waiting key's time only moves earlier
    expect(q.readyAt('a')).toBe(10);
    q.set('a', 100); // unless explicitly set
    expect(q.pop(10)).toBeUndefined();
    expect(q.pop(100)).toBe('a');
  });

  it('ConcurrentEnqueue', async () => {
    // JavaScript has no threads; "concurrent" here means many producers interleaving across
    // async turns, each adding overlapping keys. De-duplication must keep one entry per key.
    const q = new DelayQueue<number>();
    await Promise.all(
      Array.from({ length: 10 }, async (_, producer) => {
        for (let i = 0; i < 1_000; i++) {
          q.add(i, 1_000 - i + producer);
          if (i % 100 === 0) await Promise.resolve();
        }
      }),
    );
    expect(q.size).toBe(1_000);
    const out = drain(q, Number.POSITIVE_INFINITY);
    expect(out).toHaveLength(1_000);
    expect(new Set(out).size).toBe(1_000);
    expect(out[0]).toBe(999); // earliest time won: 1000 - 999 + 0
  });

  it('delete, and compaction after many superseded entries', () => {
    const q = new DelayQueue<number>();
    for (let i = 0; i < 5_000; i++) q.add(i, 10_000 + i);
    for (let i = 0; i < 5_000; i++) q.add(i, 5_000 - i); // supersede all
    for (let i = 0; i < 4_000; i++) expect(q.delete(i)).toBe(true);
    expect(q.delete(-1)).toBe(false);
    expect(q.size).toBe(1_000);
    expect(drain(q, Number.POSITIVE_INFINITY)).toEqual(Array.from({ length: 1_000 }, (_, i) => 4_999 - i));
  });

  it('a popped key never aliases the key that reuses its slot', () => {
    const q = new DelayQueue<string>();
    q.add('a', 1);
    expect(q.pop(1)).toBe('a');
    q.add('b', 5); // reuses the slot 'a' had
    expect(q.has('a')).toBe(false);
    expect(q.readyAt('a')).toBeUndefined();
    expect(q.delete('a')).toBe(false);
    expect(q.add('a', 3)).toBe(true);
    expect(q.size).toBe(2);
    expect(drain(q, 10)).toEqual(['a', 'b']);
    for (let i = 0; i < 5_000; i++) {
      q.add(`k${i}`, i);
      q.pop(i); // leaves map entries behind; pruned as they pile up
    }
    expect(q.size).toBe(0);
    expect(q.pop(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('TimerQueue', () => {
  it('arms exactly one timer, for the head', () => {
    const clock = new FakeClock(0);
    const ready: string[] = [];
    const q = new TimerQueue<string>(clock, (k) => ready.push(k));
    q.add('b', 200);
    q.add('a', 100);
    q.add('c', 300);
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(100);
    clock.advance(150);
    expect(ready).toEqual(['a']);
    expect(clock.pendingTimers()).toBe(1);
    q.delete('b');
    q.delete('c');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a callback that re-adds its key waits for the next firing', () => {
    const clock = new FakeClock(0);
    let n = 0;
    const q: TimerQueue<string> = new TimerQueue<string>(clock, (k) => {
      if (++n === 1) q.add(k, 5);
    });
    q.add('a', 10);
    q.add('b', 12);
    clock.advance(10);
    expect(n).toBe(1); // 'a' fired and was re-added; it was popped first, so no loop inside one firing
    clock.advance(10);
    expect(n).toBe(3); // 'b' at 12, the re-added 'a' at 15
    q.clear();
    expect(clock.pendingTimers()).toBe(0);
  });
});
