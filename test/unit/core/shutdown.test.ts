import { describe, expect, it } from 'vitest';
import { create, harness } from '../../helpers/harness.js';

describe('shutdown is always bounded', () => {
  it('without a deadline, a syncer that can never stop a process still lets shutdown settle', async () => {
    const h = harness({ defaultGracePeriodMs: 2_000, terminatingSlackMs: 1_000, callTimeoutMs: 5_000 });
    h.syncer.on('syncTerminating', () => Promise.reject(new Error('cannot kill')));
    create(h.manager, 'a');
    await h.clock.settle();
    const p = h.manager.shutdown().catch((e: unknown) => e);
    await h.clock.tick(7_999);
    expect(h.manager.state).toBe('shuttingDown'); // still trying, with backoff
    expect(h.syncer.of('a', 'syncTerminating').length).toBeGreaterThan(3);
    await h.clock.tick(1); // 2 s grace + 1 s slack + 5 s call timeout
    expect(await p).toMatchObject({ code: 'SHUTDOWN_TIMEOUT', forced: ['a'] });
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('a later call may tighten the deadline; it returns the same promise', async () => {
    const h = harness();
    h.syncer.on('syncTerminating', () => new Promise(() => undefined));
    create(h.manager, 'a');
    await h.clock.settle();
    const first = h.manager.shutdown();
    const second = h.manager.shutdown({ deadlineMs: 100 });
    expect(second).toBe(first);
    const settled = first.catch((e: unknown) => e);
    await h.clock.tick(100);
    expect(await settled).toMatchObject({ code: 'SHUTDOWN_TIMEOUT' });
  });

  it('with nothing running, it resolves at once and leaves no timer', async () => {
    const h = harness();
    await expect(h.manager.shutdown()).resolves.toEqual({ terminated: [] });
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('a negative deadline is a typed error and shutdown does not start', async () => {
    const h = harness();
    await expect(h.manager.shutdown({ deadlineMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(h.manager.state).toBe('running');
  });
});
