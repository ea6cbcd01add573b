import { describe, expect, it } from 'vitest';
import { Ticker } from '../../../../src/supervisor/probes/ticker.js';
import { FakeClock } from '../../../../src/util/index.js';

describe('Ticker', () => {
  it('runs everything due at the same time from one timer, in the order given', () => {
    const clock = new FakeClock(1_000);
    const ticker = new Ticker(clock);
    const ran: string[] = [];
    ticker.at(1_250, () => ran.push('a'));
    ticker.at(1_500, () => ran.push('c'));
    ticker.at(1_250, () => ran.push('b'));
    expect(clock.pendingTimers()).toBe(2);
    clock.advance(249);
    expect(ran).toEqual([]);
    clock.advance(1);
    expect(ran).toEqual(['a', 'b']);
    clock.advance(250);
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(clock.pendingTimers()).toBe(0);
    expect(ticker.pending).toBe(0);
  });

  it('a cancelled wait does not run; the last one cancelled takes its timer with it', () => {
    const clock = new FakeClock(0);
    const ticker = new Ticker(clock);
    const ran: string[] = [];
    const a = ticker.at(100, () => ran.push('a'));
    const b = ticker.at(100, () => ran.push('b'));
    a.cancel();
    a.cancel(); // idempotent
    expect(clock.pendingTimers()).toBe(1);
    b.cancel();
    expect(clock.pendingTimers()).toBe(0);
    expect(ticker.pending).toBe(0);
    ticker.at(100, () => ran.push('c')); // a new batch for the same time
    clock.advance(100);
    expect(ran).toEqual(['c']);
  });

  it('wait resolves at its time and rejects with the reason on abort, leaving no timer', async () => {
    const clock = new FakeClock(0);
    const ticker = new Ticker(clock);
    const done = ticker.wait(50, new AbortController().signal);
    await clock.tick(50);
    await expect(done).resolves.toBeUndefined();

    const controller = new AbortController();
    const aborted = ticker.wait(80, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(aborted).rejects.toThrow('stopped');
    expect(clock.pendingTimers()).toBe(0);

    const already = new AbortController();
    already.abort(new Error('gone'));
    await expect(ticker.wait(90, already.signal)).rejects.toThrow('gone');
    expect(clock.pendingTimers()).toBe(0);
  });
});
