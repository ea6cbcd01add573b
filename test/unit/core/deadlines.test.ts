import { describe, expect, it } from 'vitest';
import { Deadlines, type Deadline } from '../../../src/core/deadlines.js';
import { FakeClock } from '../../../src/util/index.js';

/** Deadlines on a fake clock that record what came due, and when. */
function setup() {
  const clock = new FakeClock(0);
  const due: { item: string; at: number }[] = [];
  const deadlines = new Deadlines<string>(clock, (item) => due.push({ item, at: clock.now() }));
  return { clock, due, deadlines };
}

describe('Deadlines', () => {
  it('comes due in time order across delays, equal times in the order added, behind one timer', () => {
    const { clock, due, deadlines } = setup();
    deadlines.add('slow', 300);
    deadlines.add('a', 100);
    clock.advance(50);
    deadlines.add('fast', 20); // a shorter delay added later is due first
    deadlines.add('b', 50); // due at 100, with 'a'
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(70);
    clock.advance(1_000);
    expect(due).toEqual([
      { item: 'fast', at: 70 },
      { item: 'a', at: 100 },
      { item: 'b', at: 100 },
      { item: 'slow', at: 300 },
    ]);
    expect(deadlines.size).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('one that comes due in the same firing as another keeps time order', () => {
    const { clock, due, deadlines } = setup();
    deadlines.add('late', 30);
    clock.advance(5);
    deadlines.add('early', 10); // at 15, in another lane
    clock.advance(100); // both are past due when the first timer fires
    expect(due.map((d) => d.item)).toEqual(['early', 'late']);
  });

  it('a cancelled deadline never comes due; with none armed, no timer is left', () => {
    const { clock, due, deadlines } = setup();
    const a = deadlines.add('a', 100);
    const b = deadlines.add('b', 200);
    deadlines.cancel(a);
    expect(deadlines.size).toBe(1);
    clock.advance(150);
    expect(due).toEqual([]);
    expect(clock.nextTimerAt()).toBe(200);
    deadlines.cancel(b);
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(100);
    expect(due).toEqual([]);
  });

  it('cancelling one that fired, or twice, changes nothing', () => {
    const { clock, due, deadlines } = setup();
    const a = deadlines.add('a', 10);
    deadlines.add('b', 20);
    clock.advance(10);
    expect(a.live).toBe(false);
    deadlines.cancel(a);
    deadlines.cancel(a);
    expect(deadlines.size).toBe(1);
    clock.advance(10);
    expect(due.map((d) => d.item)).toEqual(['a', 'b']);
  });

  it('a callback that adds a deadline, even of 0 ms, waits for the next firing', () => {
    const clock = new FakeClock(0);
    const seen: string[] = [];
    const deadlines: Deadlines<string> = new Deadlines<string>(clock, (item) => {
      seen.push(item);
      if (item === 'a') deadlines.add('again', 0);
    });
    deadlines.add('a', 10);
    deadlines.add('b', 10);
    clock.advance(10);
    expect(seen).toEqual(['a', 'b', 'again']); // 'again' ran from its own timer, after 'b'
    expect(clock.pendingTimers()).toBe(0);
  });

  it('many cancels among live deadlines (compaction) keep every live one, at its time', () => {
    const { clock, due, deadlines } = setup();
    const cancelled: Deadline<string>[] = [];
    const expected: { item: string; at: number }[] = [];
    for (let i = 0; i < 5_000; i++) {
      cancelled.push(deadlines.add(`x${i}`, 1_000));
      if (i % 500 === 0) {
        deadlines.add(`keep${i}`, 1_000);
        deadlines.add(`short${i}`, 500);
        expected.push({ item: `short${i}`, at: clock.now() + 500 }, { item: `keep${i}`, at: clock.now() + 1_000 });
      }
      if (i % 100 === 99) clock.advance(1);
    }
    for (const d of cancelled) deadlines.cancel(d);
    expect(deadlines.size).toBe(20);
    deadlines.add('after', 1_000); // finds the lanes mostly dead and compacts them
    expected.push({ item: 'after', at: clock.now() + 1_000 });
    expect(deadlines.size).toBe(21);
    clock.advance(2_000);
    expect(due).toEqual(expected.sort((a, b) => a.at - b.at));
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a delay of 0 ms comes due on the next firing, not on the stack of its add', () => {
    const { clock, due, deadlines } = setup();
    deadlines.add('a', 0);
    expect(due).toEqual([]);
    clock.advance(0);
    expect(due).toEqual([{ item: 'a', at: 0 }]);
  });

  it.each([1, 2 ** 31 - 1, 2 ** 31])('a delay of %d ms comes due then, not a millisecond earlier', (delay) => {
    const { clock, due, deadlines } = setup();
    deadlines.add('a', delay);
    clock.advance(delay - 1);
    expect(due).toEqual([]);
    clock.advance(1);
    expect(due).toEqual([{ item: 'a', at: delay }]);
  });

  it('an infinite delay never comes due, and does not hold back finite ones', () => {
    const { clock, due, deadlines } = setup();
    deadlines.add('never', Number.POSITIVE_INFINITY);
    deadlines.add('soon', 5);
    clock.advance(2 ** 40);
    expect(due).toEqual([{ item: 'soon', at: 5 }]);
    expect(deadlines.size).toBe(1);
    deadlines.clear();
    expect(deadlines.size).toBe(0);
  });

  it('clear drops every deadline and the timer; a ticket from before is dead', () => {
    const { clock, due, deadlines } = setup();
    const old = deadlines.add('a', 10);
    deadlines.add('b', 20);
    deadlines.clear();
    expect(clock.pendingTimers()).toBe(0);
    deadlines.add('c', 30);
    deadlines.cancel(old); // must not count against 'c'
    expect(deadlines.size).toBe(1);
    clock.advance(100);
    expect(due).toEqual([{ item: 'c', at: 30 }]);
  });
});
