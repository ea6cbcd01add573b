import { describe, expect, it } from 'vitest';
import { create, harness } from '../../helpers/harness.js';
import { hangUntilAborted } from '../../helpers/recording-syncer.js';
import { seededRandom } from '../../helpers/seeded-random.js';

// The Go suite's WorkQueue* scenarios and Health* scenarios, on the fake clock.
describe('ProcessManager work queue', () => {
  it('WorkQueueRetry', async () => {
    const { clock, manager, syncer, requeues } = harness({ backoff: { baseMs: 1_000, jitter: 0 } });
    let failures = 2;
    syncer.on('syncProcess', () => (failures-- > 0 ? Promise.reject(new Error('not yet')) : undefined));
    create(manager, 'a');
    await clock.settle();
    await clock.tick(999);
    expect(syncer.calls).toHaveLength(1); // not before the backoff
    await clock.tick(1);
    expect(syncer.calls).toHaveLength(2);
    await clock.tick(2_000);
    expect(syncer.calls).toHaveLength(3);
    expect(manager.getStatus('a')?.phase).toBe('Syncing');
    expect(requeues('a').map((r) => [r.reason, r.delayMs])).toEqual([
      ['error', 1_000],
      ['error', 2_000],
      ['success', 30_000],
    ]);
  });

  it('WorkQueuePeriodicResync', async () => {
    // B8: delays have millisecond resolution; a 100 ms resync gives ~30 syncs in 3 s.
    const { clock, manager, syncer } = harness({ resyncIntervalMs: 100, resyncJitter: 0 });
    create(manager, 'a');
    await clock.settle();
    await clock.tick(3_000);
    expect(syncer.calls).toHaveLength(31); // t = 0, 100, …, 3000
    expect(syncer.calls.slice(1).every((c) => c.updateType === 'sync')).toBe(true);
    const gaps = syncer.calls.slice(1).map((c, i) => c.at - (syncer.calls[i]?.at ?? 0));
    expect(new Set(gaps)).toEqual(new Set([100]));
  });

  it('WorkQueuePeriodicResync with jitter stays near the interval', async () => {
    const { clock, manager, syncer } = harness({ resyncIntervalMs: 100, random: seededRandom(7, 16807) });
    create(manager, 'a');
    await clock.settle();
    await clock.tick(3_000);
    expect(syncer.calls.length).toBeGreaterThanOrEqual(25);
    expect(syncer.calls.length).toBeLessThanOrEqual(36);
  });

  it('WorkQueueExponentialBackoff', async () => {
    const { clock, manager, syncer, requeues } = harness({ backoff: { baseMs: 100, maxMs: 1_600, jitter: 0 } });
    syncer.on('syncProcess', () => Promise.reject(new Error('down')));
    create(manager, 'a');
    await clock.settle();
    await clock.tick(20_000);
    const delays = requeues('a').map((r) => r.delayMs);
    expect(delays.slice(0, 8)).toEqual([100, 200, 400, 800, 1_600, 1_600, 1_600, 1_600]);
    const attempts = syncer.of('a').map((c) => c.attempt);
    expect(attempts.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
  });

  it('WorkQueueImmediatePhaseTransition', async () => {
    const { clock, manager, syncer, requeues } = harness();
    syncer.on('syncProcess', () => ({ terminal: true }));
    create(manager, 'a');
    await clock.settle();
    expect(requeues('a').map((r) => [r.reason, r.delayMs])).toEqual([
      ['transition', 0],
      ['transition', 0],
    ]);
    expect(syncer.calls.map((c) => c.at)).toEqual([clock.now(), clock.now(), clock.now()]);
  });

  it('WorkQueueTransientError', async () => {
    const { clock, manager, syncer, requeues } = harness({ backoff: { baseMs: 5_000, jitter: 0 } });
    let n = 0;
    syncer.on('syncProcess', () => {
      n++;
      const err = new Error('timed out');
      err.name = n % 2 ? 'TimeoutError' : 'AbortError';
      return n <= 4 ? Promise.reject(err) : undefined;
    });
    create(manager, 'a');
    await clock.settle();
    await clock.tick(10_000);
    const r = requeues('a');
    expect(r.slice(0, 4).map((x) => x.reason)).toEqual(['transient', 'transient', 'transient', 'transient']);
    // ~1 s, jittered by ±25 %, and not growing like the 5 s error backoff would.
    for (const x of r.slice(0, 4)) expect(x.delayMs).toBe(1_000);
    expect(manager.getStatus('a')).toMatchObject({ phase: 'Syncing', errorCount: 0, totalErrors: 4 });
  });

  it('WorkQueueConcurrentProcesses', async () => {
    const { clock, manager, syncer } = harness({ resyncIntervalMs: 1_000, resyncJitter: 0 });
    for (let i = 0; i < 20; i++) {
      create(manager, `p${i}`);
      await clock.tick(50); // staggered starts
    }
    await clock.tick(5_000);
    for (let i = 0; i < 20; i++) {
      const ats = syncer.of(`p${i}`).map((c) => c.at);
      expect(ats.slice(1).map((t, j) => t - (ats[j] ?? 0))).toEqual(ats.slice(1).map(() => 1_000));
    }
    expect(manager.health().queueDepth).toBe(20);
  });

  it('requeueAfterMs from the syncer overrides the resync interval', async () => {
    const { clock, manager, syncer, requeues } = harness();
    syncer.on('syncProcess', () => ({ requeueAfterMs: 250 }));
    create(manager, 'a');
    await clock.settle();
    await clock.tick(1_000);
    expect(syncer.calls).toHaveLength(5);
    expect(requeues('a')[0]).toMatchObject({ delayMs: 250, reason: 'success' });
  });

  it('a hung syncProcess is aborted at its deadline and retried as transient', async () => {
    const { clock, manager, syncer, requeues } = harness({ callTimeoutMs: 2_000 });
    syncer.on('syncProcess', (ctx) => (ctx.attempt === 0 && syncer.calls.length === 1 ? hangUntilAborted(ctx.signal) : undefined));
    create(manager, 'a');
    await clock.settle();
    await clock.tick(2_000);
    expect(syncer.calls[0]?.signal.aborted).toBe(true);
    expect(requeues('a')[0]?.reason).toBe('transient');
    await clock.tick(1_000);
    expect(manager.getStatus('a')?.phase).toBe('Syncing');
  });

  it('a syncer that ignores its abort is abandoned after abortGraceMs, so nothing hangs', async () => {
    const { clock, manager, syncer } = harness({ callTimeoutMs: 1_000, abortGraceMs: 500 });
    syncer.on('syncProcess', () => new Promise(() => undefined)); // never settles, ignores the signal
    create(manager, 'a');
    await clock.settle();
    await clock.tick(1_499);
    expect(manager.getStatus('a')?.inFlight).toBe('syncProcess');
    await clock.tick(1);
    expect(manager.getStatus('a')?.inFlight).toBeUndefined();
    expect(manager.getStatus('a')?.lastError).toMatchObject({ code: 'SYNC_TIMEOUT' });
  });
});

describe('ProcessManager health', () => {
  it('Health', async () => {
    const { clock, manager } = harness();
    for (const id of ['a', 'b', 'c']) create(manager, id);
    await clock.settle();
    expect(manager.health()).toEqual({
      healthy: true,
      state: 'running',
      total: 3,
      byPhase: { Starting: 0, Syncing: 3, Terminating: 0, Terminated: 0, Finished: 0 },
      unhealthy: 0,
      inFlight: 0,
      queueDepth: 3,
    });
  });

  it('HealthWithErrors', async () => {
    const { clock, manager, syncer } = harness();
    syncer.on('syncProcess', (ctx) => (ctx.id === 'bad' ? Promise.reject(new Error('x')) : undefined));
    create(manager, 'good');
    create(manager, 'bad');
    await clock.settle();
    const h = manager.health();
    expect(h).toMatchObject({ healthy: false, unhealthy: 1, byPhase: { Syncing: 1, Starting: 1 } });
    expect(manager.getStatus('bad')?.healthy).toBe(false);
    expect(manager.getStatus('good')?.healthy).toBe(true);
  });

  it('HealthWithTerminating', async () => {
    const { clock, manager, syncer } = harness();
    syncer.on('syncTerminating', (ctx) => hangUntilAborted(ctx.signal));
    create(manager, 'a');
    create(manager, 'b');
    await clock.settle();
    void manager.terminate('b').catch(() => undefined);
    await clock.settle();
    expect(manager.health()).toMatchObject({ healthy: true, inFlight: 1, byPhase: { Syncing: 1, Terminating: 1 } });
    const stopped = manager.shutdown({ deadlineMs: 0 }).catch((e: unknown) => e);
    await clock.settle();
    expect(await stopped).toMatchObject({ code: 'SHUTDOWN_TIMEOUT', forced: ['a', 'b'] });
  });

  it('HealthWorkQueueDepth', async () => {
    const { clock, manager } = harness();
    expect(manager.health().queueDepth).toBe(0);
    for (let i = 0; i < 25; i++) create(manager, `p${i}`);
    await clock.settle();
    expect(manager.health().queueDepth).toBe(25);
    manager.syncKnownProcesses(['p0']);
    await clock.settle();
    expect(manager.health().queueDepth).toBe(1);
  });
});
