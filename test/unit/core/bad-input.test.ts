import { describe, expect, it } from 'vitest';
import { isProcmgrError } from '../../../src/util/index.js';
import { ProcessManager, type ProcessUpdate } from '../../../src/core/index.js';
import { create, harness, type TestConfig } from '../../helpers/harness.js';
import type { RecordingSyncer } from '../../helpers/recording-syncer.js';

/** Asserts `fn` throws a procmgr error with `code` and returns it. */
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(isProcmgrError(err)).toBe(true);
    return isProcmgrError(err) ? err.code : undefined;
  }
  return undefined;
}

/** After an error, the manager still serves other ids. */
async function stillWorks(h: ReturnType<typeof harness>, id = 'healthy'): Promise<void> {
  create(h.manager, id);
  await h.clock.settle();
  expect(h.manager.getStatus(id)?.phase).toBe('Syncing');
}

describe('bad input is a typed error and changes nothing', () => {
  it.each([
    ['empty', ''],
    ['whitespace inside', 'a b'],
    ['leading space', ' a'],
    ['control character', 'a\u0000'],
    ['too long', 'x'.repeat(254)],
    ['a number', 42],
    ['null', null],
  ])('invalid id (%s)', async (_, id) => {
    const h = harness();
    const update = { id, type: 'create', config: { version: 1 } } as unknown as ProcessUpdate<TestConfig>;
    expect(codeOf(() => h.manager.updateProcess(update))).toBe('INVALID_ARGUMENT');
    await expect(h.manager.terminate(id as string)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(codeOf(() => h.manager.syncKnownProcesses([id as string]))).toBe('INVALID_ARGUMENT');
    expect(h.manager.list()).toEqual([]);
    await stillWorks(h);
  });

  it('the error message names the field and the bad value', () => {
    const h = harness();
    expect(() => h.manager.updateProcess({ id: 'a b', type: 'create', config: { version: 1 } })).toThrow(/^id: expected .* got "a b"$/);
  });

  it.each(['restart', 'CREATE', '', undefined])('unknown update type %j', async (type) => {
    const h = harness();
    const update = { id: 'a', type, config: { version: 1 } } as unknown as ProcessUpdate<TestConfig>;
    expect(codeOf(() => h.manager.updateProcess(update))).toBe('INVALID_ARGUMENT');
    expect(h.manager.getStatus('a')).toBeUndefined();
    await stillWorks(h);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, '5s'])('invalid grace period %j', async (grace) => {
    const h = harness();
    create(h.manager, 'a');
    await h.clock.settle();
    const terminate = { gracePeriodMs: grace } as unknown as { gracePeriodMs: number };
    await expect(h.manager.terminate('a', terminate)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(codeOf(() => h.manager.updateProcess({ id: 'a', type: 'terminate', terminate }))).toBe('INVALID_ARGUMENT');
    expect(h.manager.getStatus('a')?.phase).toBe('Syncing'); // not terminated by a rejected request
    await stillWorks(h);
  });

  it('creating an unknown id without a config', async () => {
    const h = harness();
    expect(codeOf(() => h.manager.updateProcess({ id: 'a', type: 'create' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => h.manager.updateProcess({ id: 'a', type: 'sync' }))).toBe('INVALID_ARGUMENT');
    expect(h.manager.getStatus('a')).toBeUndefined();
    await stillWorks(h);
  });

  it('more ids than maxProcesses is QueueFull', async () => {
    const h = harness({ maxProcesses: 2 });
    create(h.manager, 'a');
    create(h.manager, 'b');
    expect(codeOf(() => create(h.manager, 'c'))).toBe('QUEUE_FULL');
    h.manager.updateProcess({ id: 'a', type: 'update', config: { version: 2 } }); // known ids still update
    h.manager.syncKnownProcesses(['b']);
    await h.clock.settle();
    h.manager.syncKnownProcesses(['b']);
    await stillWorks(h, 'c'); // room again once 'a' was removed
  });

  it('finished records nobody removes are bounded by maxFinished: the first to finish goes, one wanted again stays', async () => {
    const h = harness({ maxFinished: 2 });
    for (const id of ['a', 'b', 'c']) create(h.manager, id);
    await h.clock.settle();
    await Promise.all([h.manager.terminate('a'), h.clock.settle()]);
    create(h.manager, 'a', 2); // a restart requested of a Finished id: it stays until syncKnownProcesses
    await Promise.all([h.manager.terminate('b'), h.clock.settle()]);
    expect([h.manager.isFinished('a'), h.manager.isFinished('b')]).toEqual([true, true]);
    await Promise.all([h.manager.terminate('c'), h.clock.settle()]);
    // Three finished, two kept: 'b' finished first of those without a restart requested.
    expect(['a', 'b', 'c'].map((id) => h.manager.getStatus(id)?.phase)).toEqual(['Finished', undefined, 'Finished']);
    expect(h.events).toContainEqual({ type: 'removed', id: 'b' });
    create(h.manager, 'b', 3); // gone, so created afresh
    await h.clock.settle();
    expect(h.manager.getStatus('b')?.phase).toBe('Syncing');
    expect(() => harness({ maxFinished: 0 })).toThrow(/maxFinished/);
    expect(harness({ maxFinished: Number.POSITIVE_INFINITY }).manager).toBeDefined();
  });

  it('calls after shutdown are ShutdownError; reads keep working', async () => {
    const h = harness();
    create(h.manager, 'a');
    await h.clock.settle();
    await Promise.all([h.manager.shutdown(), h.clock.settle()]);
    expect(codeOf(() => create(h.manager, 'b'))).toBe('SHUT_DOWN');
    expect(codeOf(() => h.manager.updateProcess({ id: 'a', type: 'sync' }))).toBe('SHUT_DOWN');
    expect(codeOf(() => h.manager.syncKnownProcesses([]))).toBe('SHUT_DOWN');
    await expect(h.manager.terminate('b')).rejects.toMatchObject({ code: 'SHUT_DOWN' });
    await expect(h.manager.terminate('a')).resolves.toBeUndefined(); // already terminated
    expect(h.manager.getStatus('a')?.phase).toBe('Finished');
    expect(h.manager.health().state).toBe('shutDown');
  });

  it('while shutting down, only terminations of known ids are accepted', async () => {
    const h = harness();
    h.syncer.on('syncTerminating', () => new Promise((r) => setTimeout(r, 5)));
    create(h.manager, 'a');
    await h.clock.settle();
    const done = h.manager.shutdown();
    expect(h.manager.state).toBe('shuttingDown');
    expect(codeOf(() => create(h.manager, 'new'))).toBe('SHUT_DOWN');
    const t = h.manager.terminate('a', { gracePeriodMs: 1_000 });
    await Promise.all([done, t]);
  });

  it.each([
    ['negative resync', { resyncIntervalMs: -1 }],
    ['NaN base backoff', { backoff: { baseMs: Number.NaN } }],
    ['max below base', { backoff: { baseMs: 10, maxMs: 5 } }],
    ['jitter above 2', { resyncJitter: 3 }],
    ['zero maxProcesses', { maxProcesses: 0 }],
  ])('constructor rejects %s', (_, opts) => {
    const h = harness();
    expect(codeOf(() => new ProcessManager<TestConfig>({ syncer: h.syncer, ...opts }))).toBe('INVALID_ARGUMENT');
  });

  it('constructor rejects a syncer without its hooks', () => {
    const syncer = { syncProcess: () => Promise.resolve(undefined) } as unknown as RecordingSyncer<TestConfig>;
    expect(codeOf(() => new ProcessManager<TestConfig>({ syncer }))).toBe('INVALID_ARGUMENT');
  });
});

describe('a misbehaving syncer or listener cannot break the manager', () => {
  it('a syncer that throws synchronously is retried like a rejection', async () => {
    const h = harness({ backoff: { baseMs: 100, jitter: 0 } });
    let n = 0;
    h.syncer.on('syncProcess', () => {
      if (n++ === 0) throw new Error('sync throw');
      return undefined;
    });
    create(h.manager, 'a');
    await h.clock.settle();
    expect(h.manager.getStatus('a')).toMatchObject({ errorCount: 1, phase: 'Starting' });
    await h.clock.tick(100);
    expect(h.manager.getStatus('a')?.phase).toBe('Syncing');
  });

  it('a throwing onEvent listener is ignored', async () => {
    const h = harness({
      onEvent: () => {
        throw new Error('listener bug');
      },
    });
    create(h.manager, 'a');
    await h.clock.settle();
    expect(h.manager.getStatus('a')?.phase).toBe('Syncing');
  });

  it('a bad requeueAfterMs from the syncer falls back to the resync interval', async () => {
    const h = harness({ resyncJitter: 0 });
    h.syncer.on('syncProcess', () => ({ requeueAfterMs: -5 }));
    create(h.manager, 'a');
    await h.clock.settle();
    expect(h.requeues('a')[0]?.delayMs).toBe(30_000);
  });
});

describe('deterministic degradation (a bug inside the manager)', () => {
  it('moves to failed, rejects everything pending, and leaves no timer', async () => {
    let calls = 0;
    // `random` is the manager's own dependency; making it throw simulates a bug in its code path.
    const h = harness({
      random: () => {
        if (++calls > 1) throw new Error('internal bug');
        return 0.5;
      },
    });
    create(h.manager, 'a');
    create(h.manager, 'b');
    h.syncer.on('syncTerminating', () => new Promise(() => undefined));
    await h.clock.settle();
    expect(h.manager.state).toBe('failed');
    await expect(h.manager.terminate('a')).rejects.toMatchObject({ code: 'MANAGER_FAILED' });
    expect(codeOf(() => create(h.manager, 'c'))).toBe('MANAGER_FAILED');
    await expect(h.manager.shutdown()).rejects.toMatchObject({ code: 'MANAGER_FAILED' });
    expect(h.clock.pendingTimers()).toBe(0);
    expect(h.events.some((e) => e.type === 'failed')).toBe(true);
  });

  it('rejects terminate promises that were waiting when the failure happened', async () => {
    let fail = false;
    const h = harness({
      random: () => {
        if (fail) throw new Error('internal bug');
        return 0.5;
      },
    });
    h.syncer.on('syncTerminating', () => Promise.reject(new Error('kill failed'))); // forces a backoff → random()
    create(h.manager, 'a');
    await h.clock.settle();
    fail = true;
    const p = h.manager.terminate('a').catch((e: unknown) => e);
    await h.clock.settle();
    expect(await p).toMatchObject({ code: 'MANAGER_FAILED' });
  });
});
