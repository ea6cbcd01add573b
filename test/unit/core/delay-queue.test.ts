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

describe('DelayQueue contract', () => {
  it('set moves a waiting key later or earlier, and a later time then holds for add', () => {
    const q = new DelayQueue<string>();
    q.add('a', 10);
    q.set('a', 50);
    expect(q.readyAt('a')).toBe(50);
    expect(q.add('a', 60)).toBe(false);
    expect(q.add('a', 40)).toBe(true);
    expect(q.size).toBe(1);
    expect(drain(q, 39)).toEqual([]);
    expect(drain(q, 40)).toEqual(['a']);
    expect(q.size).toBe(0);
  });

  it('a deleted key can wait again, with any time; its old time is gone', () => {
    const q = new DelayQueue<string>();
    q.add('a', 10);
    q.add('b', 20);
    expect(q.delete('a')).toBe(true);
    expect(q.peekReadyAt()).toBe(20);
    expect(q.add('a', 30)).toBe(true);
    expect(drain(q, 25)).toEqual(['b']);
    expect(drain(q, 30)).toEqual(['a']);
  });

  it('pop honours now: nothing ready, nothing popped', () => {
    const q = new DelayQueue<string>();
    expect(q.pop(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(q.peekReadyAt()).toBeUndefined();
    q.add('a', 10);
    expect(q.pop(9)).toBeUndefined();
    expect(q.has('a')).toBe(true);
    expect(q.pop(10)).toBe('a');
  });

  it('clear forgets every key', () => {
    const q = new DelayQueue<string>();
    for (let i = 0; i < 10; i++) q.add(`k${i}`, i);
    q.clear();
    expect(q.size).toBe(0);
    expect(q.has('k1')).toBe(false);
    expect(q.pop(Number.POSITIVE_INFINITY)).toBeUndefined();
    q.add('k1', 5);
    expect(drain(q, 5)).toEqual(['k1']);
  });

  it('any churn of adds, sets, deletes and pops matches a plain model', () => {
    // A seeded walk against the obvious model (a map of key → time; pop takes the smallest, first in on ties).
    let seed = 42;
    const rand = (n: number): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n);
    const q = new DelayQueue<number>();
    const model = new Map<number, { at: number; seq: number }>();
    let seq = 0;
    for (let step = 0; step < 10_000; step++) {
      const key = rand(300);
      const at = rand(1_000);
      switch (rand(4)) {
        case 0: {
          const cur = model.get(key);
          const moved = cur === undefined || at < cur.at;
          if (moved) model.set(key, { at, seq: seq++ });
          expect(q.add(key, at)).toBe(moved);
          break;
        }
        case 1:
          if (model.get(key)?.at !== at) model.set(key, { at, seq: seq++ });
          q.set(key, at);
          break;
        case 2:
          expect(q.delete(key)).toBe(model.delete(key));
          break;
        case 3: {
          let best: [number, { at: number; seq: number }] | undefined;
          for (const e of model) if (e[1].at <= at && (!best || e[1].at < best[1].at || (e[1].at === best[1].at && e[1].seq < best[1].seq))) best = e;
          if (best) model.delete(best[0]);
          expect(q.pop(at)).toBe(best?.[0]);
          break;
        }
      }
      expect(q.size).toBe(model.size);
    }
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
