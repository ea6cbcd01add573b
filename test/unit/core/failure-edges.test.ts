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
