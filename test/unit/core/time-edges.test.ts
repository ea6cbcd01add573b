import { describe, expect, it } from 'vitest';
import { ProcessManager, type ProcessManagerOptions, type ProcessSyncer } from '../../../src/core/index.js';
import { abortError, realClock, sleep } from '../../../src/util/index.js';
import { create, harness, type TestConfig } from '../../helpers/harness.js';
import { hangUntilAborted } from '../../helpers/recording-syncer.js';

// Delays at their edges: a zero delay must not turn the engine into a microtask loop that starves
// timers, I/O and the shutdown deadline; an abort keeps its whole grace even near the call's deadline.

describe('zero delays yield to the event loop (real clock)', () => {
  const syncers: Record<string, [Partial<ProcessManagerOptions<TestConfig>>, ProcessSyncer<TestConfig>['syncProcess']]> = {
    'requeueAfterMs: 0': [{}, () => Promise.resolve({ requeueAfterMs: 0 })],
    'resyncIntervalMs: 0': [{ resyncIntervalMs: 0 }, () => Promise.resolve({})],
    'backoff 0/0': [{ backoff: { baseMs: 0, maxMs: 0 } }, () => Promise.reject(new Error('always'))],
    'transientRetryMs: 0': [{ transientRetryMs: 0 }, () => Promise.reject(abortError('always aborted'))],
  };
  it.each(Object.keys(syncers))('%s: a 50 ms timer still fires and shutdown completes', async (name) => {
    const [options, syncProcess] = syncers[name]!;
    let calls = 0;
    const manager = new ProcessManager<TestConfig>({
      ...options,
      clock: realClock,
      syncer: {
        syncProcess: (ctx) => {
          calls++;
          return syncProcess(ctx);
        },
        syncTerminating: () => Promise.resolve(),
        syncTerminated: () => Promise.resolve(),
      },
    });
    create(manager, 'a');
    const fired = await Promise.race([sleep(realClock, 50).then(() => true), new Promise<false>((r) => setImmediate(() => setTimeout(() => r(false), 2_000)))]);
    expect(fired).toBe(true);
    expect(calls).toBeGreaterThan(1); // it did run again, through the timer
    await manager.shutdown({ deadlineMs: 5_000 });
  });
});

describe('abort grace near a call deadline', () => {
  it('a terminate at 9 000 ms of a 10 000 ms call gives the call its 5 000 ms of grace: abandoned at 14 000, not 10 000', async () => {
    const { clock, manager, syncer } = harness({ callTimeoutMs: 10_000, abortGraceMs: 5_000 });
    syncer.on('syncProcess', () => new Promise(() => undefined)); // ignores its abort
    syncer.on('syncTerminating', (ctx) => hangUntilAborted(ctx.signal));
    create(manager, 'a');
    await clock.settle();
    await clock.tick(9_000);
    manager.updateProcess({ id: 'a', type: 'terminate' });
    await clock.settle();
    expect(syncer.calls[0]?.signal.aborted).toBe(true);
    await clock.tick(1_000); // the call's own deadline
    expect(manager.getStatus('a')?.inFlight).toBe('syncProcess');
    await clock.tick(3_999);
    expect(manager.getStatus('a')?.inFlight).toBe('syncProcess');
    await clock.tick(1);
    expect(manager.getStatus('a')?.inFlight).toBe('syncTerminating');
  });
});
