import { describe, expect, it } from 'vitest';
import { FakeClock, InvalidArgumentError, ProcmgrError, ShutdownTimeoutError, isAbortLike, isProcmgrError, sleep } from '../../../src/util/index.js';

describe('FakeClock', () => {
  it('fires timers in time order, ties in set order, only when time reaches them', () => {
    const clock = new FakeClock(0);
    const log: string[] = [];
    clock.setTimer(() => log.push('b'), 20);
    clock.setTimer(() => log.push('a'), 10);
    clock.setTimer(() => log.push('a2'), 10);
    const c = clock.setTimer(() => log.push('cancelled'), 15);
    c.cancel();
    clock.advance(9);
    expect(log).toEqual([]);
    clock.advance(11);
    expect(log).toEqual(['a', 'a2', 'b']);
    expect(clock.now()).toBe(20);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('sleep resolves on tick and rejects with the signal reason on abort, removing its timer', async () => {
    const clock = new FakeClock(0);
    const slept = sleep(clock, 100);
    await clock.tick(100);
    await expect(slept).resolves.toBeUndefined();
    const ac = new AbortController();
    const aborted = sleep(clock, 100, ac.signal);
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('errors', () => {
  it('carry a literal code and a brand that survives realms', () => {
    const e = new InvalidArgumentError('bad', { field: 'x' });
    expect(e).toBeInstanceOf(ProcmgrError);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.name).toBe('InvalidArgumentError');
    expect(e.details).toEqual({ field: 'x' });
    expect(isProcmgrError(e)).toBe(true);
    expect(isProcmgrError(new Error('plain'))).toBe(false);
    expect(isProcmgrError(structuredClone({ code: 'INVALID_ARGUMENT' }))).toBe(false);
    expect(new ShutdownTimeoutError(['a', 'b', 'c', 'd', 'e', 'f']).message).toContain('(+1)');
  });

  it.each([
    [{ name: 'AbortError' }, true],
    [{ name: 'TimeoutError' }, true],
    [{ code: 'ETIMEDOUT' }, true],
    [{ code: 'SYNC_TIMEOUT' }, true],
    [new Error('AbortError'), false], // never by message
    [null, false],
    ['AbortError', false],
  ])('isAbortLike(%j) is %s', (err, expected) => {
    expect(isAbortLike(err)).toBe(expected);
  });
});
