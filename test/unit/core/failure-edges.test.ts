import { describe, expect, it } from 'vitest';
import { abortError, isAbortLike } from '../../../src/util/index.js';
import { create, harness } from '../../helpers/harness.js';

describe('failures of any kind count for health', () => {
  it('a process whose every sync times out is unhealthy, with its failures in a row, and healthy again after a success', async () => {
    const { clock, manager, syncer } = harness({ resyncIntervalMs: 1_000, transientRetryMs: 1_000 });
    let failing = true;
    syncer.on('syncProcess', () => (failing ? Promise.reject(abortError('timed out')) : undefined));
    create(manager, 'a');
    await clock.settle();
    await clock.tick(3_000);
    const status = manager.getStatus('a');
    expect(status).toMatchObject({ healthy: false, errorCount: 0 }); // transient: no backoff growth
    expect(status?.failureCount).toBeGreaterThanOrEqual(3);
    expect(manager.health()).toMatchObject({ healthy: false, unhealthy: 1 });
    failing = false;
    await clock.tick(1_000);
    expect(manager.getStatus('a')).toMatchObject({ healthy: true, failureCount: 0 });
    expect(manager.health()).toMatchObject({ healthy: true, unhealthy: 0 });
  });
});

describe('abort-like errors along the cause chain', () => {
  it.each([
    [abortError('a'), true],
    [new Error('wrapped', { cause: abortError('inner') }), true],
    [new Error('deep', { cause: new Error('mid', { cause: Object.assign(new Error('t'), { code: 'ETIMEDOUT' }) }) }), true],
    [new Error('plain', { cause: new Error('no') }), false],
    ['a string', false],
  ])('%s → %s', (err, transient) => {
    expect(isAbortLike(err)).toBe(transient);
  });

  it('a cause cycle ends the walk', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(isAbortLike(a)).toBe(false);
  });

  it('a syncer error wrapping an abort retries as transient, without backoff', async () => {
    const { clock, manager, syncer, requeues } = harness({ transientRetryMs: 1_000, backoff: { baseMs: 60_000, jitter: 0 } });
    let first = true;
    syncer.on('syncProcess', () => {
      if (!first) return undefined;
      first = false;
      return Promise.reject(new Error('request failed', { cause: abortError('aborted') }));
    });
    create(manager, 'a');
    await clock.settle();
    expect(requeues('a')[0]).toMatchObject({ reason: 'transient', delayMs: 1_000 });
  });
});

describe('re-added ids (the kubelet restartRequested)', () => {
  it('create → terminate → Finished → create(v2) → syncKnownProcesses([id]) runs v2 afresh', async () => {
    const { clock, manager, syncer } = harness();
    create(manager, 'a', 1);
    await clock.settle();
    await manager.terminate('a');
    await clock.settle();
    expect(manager.isFinished('a')).toBe(true);
    create(manager, 'a', 2);
    manager.syncKnownProcesses(['a']);
    await clock.settle();
    const versions = syncer.calls.filter((c) => c.hook === 'syncProcess').map((c) => c.config.version);
    expect(versions).toEqual([1, 2]);
    expect(manager.getStatus('a')).toMatchObject({ phase: 'Syncing', config: { version: 2 } });
  });

  it('a create while still terminating is remembered: once Finished, the next syncKnownProcesses starts it with the latest config', async () => {
    const { clock, manager, syncer } = harness();
    let release!: () => void;
    syncer.on('syncTerminating', () => new Promise<void>((r) => (release = r)));
    create(manager, 'a', 1);
    await clock.settle();
    manager.updateProcess({ id: 'a', type: 'terminate' });
    await clock.settle();
    create(manager, 'a', 2);
    create(manager, 'a', 3);
    manager.syncKnownProcesses(['a']); // still terminating: nothing to purge yet
    release();
    await clock.settle();
    expect(manager.isFinished('a')).toBe(true);
    manager.syncKnownProcesses(['a']);
    await clock.settle();
    expect(syncer.calls.filter((c) => c.hook === 'syncProcess').map((c) => c.config.version)).toEqual([1, 3]);
  });

  it('a Finished id without a new create stays finished while desired; not desired, it is removed', async () => {
    const { clock, manager } = harness();
    create(manager, 'a');
    await clock.settle();
    await manager.terminate('a');
    await clock.settle();
    expect(manager.syncKnownProcesses(['a']).get('a')?.phase).toBe('Finished');
    expect(manager.syncKnownProcesses([]).has('a')).toBe(false);
  });
});

describe('terminate: unknown ids and waiting', () => {
  it('terminating unknown ids leaves no record and takes no slot', async () => {
    const { clock, manager } = harness({ maxProcesses: 2 });
    create(manager, 'a');
    for (const typo of ['b1', 'b2', 'b3']) {
      await manager.terminate(typo);
      manager.updateProcess({ id: typo, type: 'terminate' });
    }
    await clock.settle();
    expect(manager.list().map((s) => s.id)).toEqual(['a']);
    expect(() => create(manager, 'c')).not.toThrow();
  });

  it('a terminate whose syncTerminating keeps failing rejects with the signal\'s reason when it aborts; the termination goes on', async () => {
    const { clock, manager, syncer } = harness({ backoff: { baseMs: 1_000, maxMs: 1_000, jitter: 0 } });
    let failing = true;
    syncer.on('syncTerminating', () => (failing ? Promise.reject(new Error('cannot stop yet')) : undefined));
    create(manager, 'a');
    await clock.settle();
    const ac = new AbortController();
    const waiting = manager.terminate('a', { signal: ac.signal });
    const outcome = waiting.then(() => 'resolved', (e: unknown) => e);
    await clock.tick(5_000);
    ac.abort(new Error('gave up waiting'));
    expect(await outcome).toMatchObject({ message: 'gave up waiting' });
    expect(manager.getStatus('a')?.phase).toBe('Terminating');
    failing = false;
    await clock.tick(1_000);
    expect(manager.isTerminated('a')).toBe(true);
    // An aborted signal up front rejects at once.
    await expect(manager.terminate('a', { signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
  });
});
