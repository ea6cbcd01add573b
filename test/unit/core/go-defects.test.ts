import { describe, expect, it } from 'vitest';
import { ShutdownTimeoutError, exponentialBackoffMs, sleep } from '../../../src/util/index.js';
import { create, harness } from '../../helpers/harness.js';
import { hangUntilAborted } from '../../helpers/recording-syncer.js';

// Each known defect of the Go original (seed 003) has its own test here.
describe('defects of the Go original, fixed', () => {
  it('B1: shutdown runs the terminating hooks of every live process before giving up', async () => {
    const { clock, manager, syncer } = harness();
    syncer.on('syncTerminating', (ctx) => sleep(clock, 2_000, ctx.signal)); // each takes 2 s to stop
    for (const id of ['a', 'b', 'c']) create(manager, id);
    await clock.settle();
    const p = manager.shutdown({ deadlineMs: 10_000 });
    await clock.tick(2_000);
    await expect(p).resolves.toEqual({ terminated: ['a', 'b', 'c'] });
    for (const id of ['a', 'b', 'c']) {
      expect(syncer.hooks(id)).toEqual(['syncProcess', 'syncTerminating', 'syncTerminated']);
      expect(manager.isFinished(id)).toBe(true);
    }
  });

  it('B1: shutdown with a deadline reports what it force-stopped, and only that', async () => {
    const { clock, manager, syncer } = harness({ abortGraceMs: 100_000 });
    syncer.on('syncTerminating', (ctx) => (ctx.id === 'slow' ? new Promise(() => undefined) : sleep(clock, 1_000, ctx.signal)));
    for (const id of ['a', 'slow', 'b']) create(manager, id);
    await clock.settle();
    const p = manager.shutdown({ deadlineMs: 3_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await clock.tick(3_000);
    const err = (await p) as ShutdownTimeoutError;
    expect(err).toBeInstanceOf(ShutdownTimeoutError);
    expect(err.code).toBe('SHUTDOWN_TIMEOUT');
    expect(err.forced).toEqual(['slow']);
    expect(manager.isFinished('a') && manager.isFinished('b')).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('B1: shutdown aborted through its signal force-stops at once', async () => {
    const { clock, manager, syncer } = harness();
    syncer.on('syncTerminating', (ctx) => hangUntilAborted(ctx.signal));
    create(manager, 'a');
    await clock.settle();
    const ac = new AbortController();
    const p = manager.shutdown({ signal: ac.signal }).catch((e: unknown) => e);
    await clock.settle();
    ac.abort();
    expect(await p).toMatchObject({ code: 'SHUTDOWN_TIMEOUT', forced: ['a'] });
  });

  it('B2: terminal: true moves to Terminating at once (delay 0), not after the next resync', async () => {
    const { clock, manager, syncer } = harness({ resyncIntervalMs: 3_600_000 });
    syncer.on('syncProcess', () => ({ terminal: true }));
    syncer.on('syncTerminating', (ctx) => hangUntilAborted(ctx.signal));
    const start = clock.now();
    create(manager, 'a');
    await clock.settle();
    expect(clock.now()).toBe(start);
    expect(manager.getStatus('a')?.phase).toBe('Terminating');
    expect(syncer.of('a', 'syncTerminating')[0]?.at).toBe(start);
    await manager.shutdown({ deadlineMs: 0 }).catch(() => undefined);
  });

  it('B2: a TerminalError thrown by syncProcess is never retried and terminates', async () => {
    const { clock, manager, syncer } = harness();
    const { TerminalError } = await import('../../../src/util/index.js');
    syncer.on('syncProcess', () => Promise.reject(new TerminalError('bad binary')));
    create(manager, 'a');
    await clock.settle();
    expect(syncer.hooks('a')).toEqual(['syncProcess', 'syncTerminating', 'syncTerminated']);
    expect(manager.getStatus('a')?.lastError).toBeUndefined(); // cleanup succeeded afterwards
  });

  it('B3: syncKnownProcesses drives orphans to termination immediately', async () => {
    const { clock, manager, syncer } = harness({ resyncIntervalMs: 3_600_000 });
    create(manager, 'keep');
    create(manager, 'orphan');
    await clock.settle();
    const t = clock.now();
    manager.syncKnownProcesses(['keep']);
    await clock.settle();
    expect(clock.now()).toBe(t);
    expect(syncer.hooks('orphan')).toEqual(['syncProcess', 'syncTerminating', 'syncTerminated']);
    expect(syncer.of('orphan', 'syncTerminating')[0]?.at).toBe(t);
  });

  it('B4: a terminate (or sync) without config keeps the last config', async () => {
    const { clock, manager, syncer } = harness();
    create(manager, 'a', 1);
    manager.updateProcess({ id: 'a', type: 'update', config: { version: 2 } });
    await clock.settle();
    manager.updateProcess({ id: 'a', type: 'sync' });
    await clock.settle();
    await Promise.all([manager.terminate('a'), clock.settle()]);
    await clock.settle();
    expect(syncer.of('a').map((c) => [c.hook, c.config.version])).toEqual([
      ['syncProcess', 2],
      ['syncProcess', 2],
      ['syncTerminating', 2],
      ['syncTerminated', 2],
    ]);
  });

  it('B4b: every terminate promise settles when the first terminating attempt fails and is retried', async () => {
    const { clock, manager, syncer } = harness({ backoff: { baseMs: 1_000, jitter: 0 } });
    let fail = true;
    syncer.on('syncTerminating', () => (fail ? ((fail = false), Promise.reject(new Error('kill failed'))) : undefined));
    create(manager, 'a');
    await clock.settle();
    const settled: string[] = [];
    const p1 = manager.terminate('a').then(() => settled.push('p1'));
    await clock.settle(); // first attempt fails
    const p2 = manager.terminate('a').then(() => settled.push('p2'));
    expect(settled).toEqual([]);
    await clock.tick(1_000); // retried after the backoff
    await Promise.all([p1, p2]);
    expect(settled.sort()).toEqual(['p1', 'p2']);
    expect(syncer.of('a', 'syncTerminating')).toHaveLength(2);
  });

  it('B4b: terminating the same id twice in one tick settles both promises', async () => {
    const { clock, manager } = harness();
    create(manager, 'a');
    await clock.settle();
    const both = Promise.all([manager.terminate('a'), manager.terminate('a', { gracePeriodMs: 1_000 })]);
    await clock.settle();
    await expect(both).resolves.toEqual([undefined, undefined]);
  });

  it('B5: a shortened grace period aborts the in-flight terminating call and restarts it with the new grace', async () => {
    const { clock, manager, syncer } = harness();
    syncer.on('syncTerminating', (ctx) => ((ctx.gracePeriodMs ?? 0) > 5_000 ? hangUntilAborted(ctx.signal) : undefined));
    create(manager, 'a');
    await clock.settle();
    const p = manager.terminate('a', { gracePeriodMs: 60_000 });
    await clock.settle();
    const t = clock.now();
    void manager.terminate('a', { gracePeriodMs: 3_000 });
    await clock.settle();
    await p;
    const calls = syncer.of('a', 'syncTerminating');
    expect(calls.map((c) => c.gracePeriodMs)).toEqual([60_000, 3_000]);
    expect(calls[0]?.signal.aborted).toBe(true);
    expect(calls[1]?.at).toBe(t); // restarted at once, not after a backoff
    expect(manager.getStatus('a')?.totalErrors).toBe(1); // the aborted call is recorded, not counted as a failure streak
    expect(manager.getStatus('a')?.errorCount).toBe(0);
  });

  it('B5: the grace period is clamped to the floor', async () => {
    const { clock, manager, syncer } = harness({ minGracePeriodMs: 1_000 });
    create(manager, 'a');
    await clock.settle();
    await Promise.all([manager.terminate('a', { gracePeriodMs: 0 }), clock.settle()]);
    expect(syncer.of('a', 'syncTerminating')[0]?.gracePeriodMs).toBe(1_000);
  });

  it.each([1, 2, 53, 64, 1_024, 10_000, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY])(
    'B7: backoff at attempt %d never overflows or goes negative',
    (attempt) => {
      const d = exponentialBackoffMs(attempt, 1_000, 60_000);
      expect(Number.isFinite(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(1_000);
      expect(d).toBeLessThanOrEqual(60_000);
    },
  );

  it('B7: 10 000 consecutive failures in the engine keep a sane, capped delay', async () => {
    const { clock, manager, syncer, requeues } = harness({ backoff: { baseMs: 1, maxMs: 8, jitter: 0.5 } });
    syncer.on('syncProcess', () => Promise.reject(new Error('always')));
    create(manager, 'a');
    await clock.settle();
    while (syncer.calls.length < 10_000) {
      clock.advance(8);
      await clock.settle();
    }
    const delays = requeues('a').map((r) => r.delayMs);
    expect(manager.getStatus('a')?.errorCount).toBeGreaterThanOrEqual(10_000);
    expect(delays.every((d) => Number.isFinite(d) && d >= 0 && d <= 8)).toBe(true);
  });

  it('B8: delays have millisecond resolution: a 100 ms resync gives ~30 syncs in 3 s', async () => {
    const { clock, manager, syncer } = harness({ resyncIntervalMs: 100 });
    create(manager, 'a');
    await clock.settle();
    await clock.tick(3_000);
    expect(syncer.calls.length).toBeGreaterThanOrEqual(29);
    expect(syncer.calls.length).toBeLessThanOrEqual(31);
  });

  it('B9: terminating an id that never started finishes it without running the hooks', async () => {
    const { clock, manager, syncer, phases } = harness();
    await expect(manager.terminate('ghost')).resolves.toBeUndefined();
    create(manager, 'early');
    const p = manager.terminate('early'); // same tick: no worker has picked up the create
    await p;
    await clock.settle();
    expect(syncer.calls).toEqual([]);
    expect(manager.isFinished('early')).toBe(true);
    // An unknown id leaves no record behind (a typo must not hold a slot of maxProcesses forever).
    expect(manager.getStatus('ghost')).toBeUndefined();
    expect(phases('early')).toEqual(['Starting', 'Terminating', 'Terminated', 'Finished']);
    expect(manager.getStatus('early')?.config).toEqual({ version: 1 });
  });

  it('B9: an orphan that never started is finished and removed by syncKnownProcesses at once', async () => {
    const { clock, manager, syncer } = harness();
    create(manager, 'a');
    expect(manager.syncKnownProcesses([]).size).toBe(0);
    await clock.settle();
    expect(syncer.calls).toEqual([]);
  });
});
