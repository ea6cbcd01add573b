import { describe, expect, it } from 'vitest';
import { ShutdownTimeoutError, isProcmgrError } from '../../../src/util/index.js';
import { create, harness } from '../../helpers/harness.js';
import { deferred, hangUntilAborted } from '../../helpers/recording-syncer.js';

// One test per scenario of the Go procmgr suite (seed 003), named after it.
describe('ProcessManager (Go suite scenarios)', () => {
  it('CreateProcess', async () => {
    const { clock, syncer, manager } = harness();
    create(manager, 'a', 7);
    expect(manager.getStatus('a')?.phase).toBe('Starting');
    expect(syncer.calls).toHaveLength(0); // dispatch happens off the caller's stack
    await clock.settle();
    expect(syncer.calls).toHaveLength(1);
    expect(syncer.calls[0]).toMatchObject({ hook: 'syncProcess', id: 'a', updateType: 'create', config: { version: 7 }, attempt: 0 });
    const st = manager.getStatus('a');
    expect(st).toMatchObject({ phase: 'Syncing', healthy: true, errorCount: 0, syncCount: 1, config: { version: 7 } });
    expect(st?.nextSyncAt).toBeGreaterThan(clock.now());
  });

  it('UpdateProcess', async () => {
    const { clock, syncer, manager } = harness();
    create(manager, 'a', 1);
    await clock.settle();
    manager.updateProcess({ id: 'a', type: 'update', config: { version: 2 } });
    await clock.settle();
    expect(syncer.of('a').map((c) => [c.updateType, c.config.version])).toEqual([
      ['create', 1],
      ['update', 2],
    ]);
    expect(manager.getStatus('a')?.config).toEqual({ version: 2 });
  });

  it('GracefulTermination', async () => {
    const { clock, syncer, manager } = harness();
    create(manager, 'a');
    await clock.settle();
    let done = false;
    const p = manager.terminate('a', { gracePeriodMs: 5_000 }).then(() => (done = true));
    await clock.settle();
    await p;
    expect(done).toBe(true);
    expect(syncer.hooks('a')).toEqual(['syncProcess', 'syncTerminating', 'syncTerminated']);
    expect(syncer.of('a', 'syncTerminating')[0]).toMatchObject({ gracePeriodMs: 5_000, updateType: 'terminate', config: { version: 1 } });
    expect(manager.isTerminated('a')).toBe(true);
    expect(manager.isFinished('a')).toBe(true);
  });

  it('TerminationPhases', async () => {
    const { clock, manager, phases, syncer } = harness();
    const gate = deferred();
    syncer.on('syncTerminating', () => gate.promise);
    create(manager, 'a');
    await clock.settle();
    const p = manager.terminate('a');
    expect(manager.getStatus('a')?.phase).toBe('Terminating');
    await clock.settle();
    expect(manager.getStatus('a')?.inFlight).toBe('syncTerminating');
    gate.resolve();
    await p;
    await clock.settle();
    expect(phases('a')).toEqual(['Starting', 'Syncing', 'Terminating', 'Terminated', 'Finished']);
  });

  it('ContextCancellation', async () => {
    const { clock, manager, syncer } = harness();
    syncer.on('syncProcess', (ctx) => hangUntilAborted(ctx.signal));
    create(manager, 'a');
    await clock.settle();
    const first = syncer.calls[0];
    expect(first?.signal.aborted).toBe(false);
    const p = manager.terminate('a');
    expect(first?.signal.aborted).toBe(true); // aborted synchronously with the request
    await clock.settle();
    await p;
    expect(syncer.hooks('a')).toEqual(['syncProcess', 'syncTerminating', 'syncTerminated']);
    expect(manager.getStatus('a')?.errorCount).toBe(0); // our own abort is not a failure
  });

  it('ConcurrentProcesses', async () => {
    const { clock, manager, syncer } = harness();
    const gates = new Map<string, ReturnType<typeof deferred<undefined>>>();
    syncer.on('syncProcess', (ctx) => {
      const g = deferred<undefined>();
      gates.set(ctx.id, g);
      return g.promise;
    });
    for (let i = 0; i < 100; i++) create(manager, `p${i}`);
    await clock.settle();
    expect(manager.health().inFlight).toBe(100); // all run in parallel, one each
    for (const g of gates.values()) g.resolve(undefined);
    await clock.settle();
    expect(manager.health().byPhase.Syncing).toBe(100);
    expect(syncer.overlaps).toEqual([]);
  });

  it('ConcurrentUpdates', async () => {
    const { clock, manager, syncer } = harness();
    const gate = deferred();
    syncer.on('syncProcess', (ctx) => (ctx.config.version === 1 ? gate.promise : undefined));
    create(manager, 'a', 1);
    await clock.settle();
    for (let v = 2; v <= 50; v++) manager.updateProcess({ id: 'a', type: 'update', config: { version: v } });
    await clock.settle();
    expect(syncer.calls).toHaveLength(1); // still one call in flight: the rest wait in pending
    gate.resolve();
    await clock.settle();
    // Latest wins: the 48 intermediate configs are skipped.
    expect(syncer.of('a').map((c) => c.config.version)).toEqual([1, 50]);
    expect(syncer.overlaps).toEqual([]);
  });

  it('SyncError', async () => {
    const { clock, manager, syncer } = harness();
    const boom = new Error('boom');
    syncer.on('syncProcess', () => Promise.reject(boom));
    create(manager, 'a');
    await clock.settle();
    expect(manager.getStatus('a')).toMatchObject({ phase: 'Starting', healthy: false, errorCount: 1, totalErrors: 1, lastError: boom });
    await clock.tick(1_000);
    expect(manager.getStatus('a')?.errorCount).toBe(2);
    syncer.on('syncProcess', () => undefined);
    await clock.tick(2_000);
    expect(manager.getStatus('a')).toMatchObject({ phase: 'Syncing', healthy: true, errorCount: 0, totalErrors: 2, lastError: undefined });
  });

  it('TerminalState', async () => {
    const { clock, manager, syncer, phases } = harness();
    syncer.on('syncProcess', () => ({ terminal: true }));
    create(manager, 'a');
    await clock.settle(); // no time passes: terminal moves on at once (B2)
    expect(phases('a')).toEqual(['Starting', 'Syncing', 'Terminating', 'Terminated', 'Finished']);
    expect(syncer.hooks('a')).toEqual(['syncProcess', 'syncTerminating', 'syncTerminated']);
  });

  it('GracePeriodDecrease', async () => {
    const { clock, manager, syncer } = harness();
    syncer.on('syncTerminating', (ctx) => hangUntilAborted(ctx.signal));
    create(manager, 'a');
    await clock.settle();
    const p1 = manager.terminate('a', { gracePeriodMs: 30_000 });
    await clock.settle();
    const p2 = manager.terminate('a', { gracePeriodMs: 60_000 }); // longer: ignored, no restart
    await clock.settle();
    expect(syncer.of('a', 'syncTerminating').map((c) => c.gracePeriodMs)).toEqual([30_000]);
    syncer.on('syncTerminating', () => undefined);
    const p3 = manager.terminate('a', { gracePeriodMs: 2_000 }); // shorter: abort and restart (B5)
    await clock.settle();
    const terminating = syncer.of('a', 'syncTerminating');
    expect(terminating.map((c) => c.gracePeriodMs)).toEqual([30_000, 2_000]);
    expect(terminating[0]?.signal.aborted).toBe(true);
    await Promise.all([p1, p2, p3]);
    expect(manager.getStatus('a')?.gracePeriodMs).toBe(2_000);
  });

  it('SyncKnownProcesses', async () => {
    const { clock, manager, syncer } = harness();
    for (const id of ['a', 'b', 'c']) create(manager, id);
    await clock.settle();
    const statuses = manager.syncKnownProcesses(['a']);
    // Orphans are driven to termination at once (B3), not at the next resync.
    expect(statuses.get('b')?.phase).toBe('Terminating');
    expect(statuses.get('c')?.phase).toBe('Terminating');
    expect(statuses.get('a')?.phase).toBe('Syncing');
    await clock.settle();
    expect(syncer.hooks('b')).toEqual(['syncProcess', 'syncTerminating', 'syncTerminated']);
    const after = manager.syncKnownProcesses(['a']);
    expect([...after.keys()]).toEqual(['a']); // finished orphans are removed
    create(manager, 'b', 2); // and may be created again
    await clock.settle();
    expect(manager.getStatus('b')).toMatchObject({ phase: 'Syncing', config: { version: 2 } });
  });

  it('Shutdown', async () => {
    const { clock, manager, syncer } = harness();
    for (const id of ['a', 'b']) create(manager, id);
    await clock.settle();
    const p = manager.shutdown();
    await clock.settle();
    await expect(p).resolves.toEqual({ terminated: ['a', 'b'] });
    for (const id of ['a', 'b']) expect(syncer.hooks(id)).toEqual(['syncProcess', 'syncTerminating', 'syncTerminated']);
    expect(manager.state).toBe('shutDown');
    expect(clock.pendingTimers()).toBe(0);
    expect(manager.shutdown()).toBe(p); // idempotent
  });

  it('ShutdownTimeout', async () => {
    const { clock, manager, syncer } = harness({ abortGraceMs: 60_000 });
    syncer.on('syncTerminating', (ctx) => (ctx.id === 'stuck' ? hangUntilAborted(ctx.signal) : undefined));
    for (const id of ['ok', 'stuck']) create(manager, id);
    await clock.settle();
    const stuckDone = manager.terminate('stuck').catch((e: unknown) => e);
    const p = manager.shutdown({ deadlineMs: 5_000 }).catch((e: unknown) => e);
    await clock.tick(5_000);
    const err = await p;
    expect(err).toBeInstanceOf(ShutdownTimeoutError);
    expect((err as ShutdownTimeoutError).forced).toEqual(['stuck']);
    expect(syncer.hooks('ok')).toEqual(['syncProcess', 'syncTerminating', 'syncTerminated']);
    expect(syncer.of('stuck', 'syncTerminating')[0]?.signal.aborted).toBe(true);
    const waiterErr = await stuckDone;
    expect(isProcmgrError(waiterErr) && waiterErr.code).toBe('FORCE_STOPPED');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('UpdateFinishedProcess', async () => {
    const { clock, manager, syncer, events } = harness();
    create(manager, 'a');
    await clock.settle();
    await Promise.all([manager.terminate('a'), clock.settle()]);
    await clock.settle();
    expect(manager.isFinished('a')).toBe(true);
    manager.updateProcess({ id: 'a', type: 'update', config: { version: 9 } });
    await clock.tick(60_000);
    expect(syncer.calls).toHaveLength(3); // nothing ran again
    expect(events).toContainEqual({ type: 'ignored', id: 'a', reason: 'finished' });
    await expect(manager.terminate('a')).resolves.toBeUndefined(); // already terminated: at once
  });

  it('HighChurn', async () => {
    const { clock, manager, syncer } = harness();
    const done: Promise<void>[] = [];
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 50; i++) create(manager, `r${round}-p${i}`, round);
      await clock.settle();
      for (let i = 0; i < 50; i += 2) done.push(manager.terminate(`r${round}-p${i}`, { gracePeriodMs: 0 }));
      manager.syncKnownProcesses([...manager.list().map((s) => s.id)].filter((id) => !id.endsWith('5')));
      await clock.tick(10);
    }
    await Promise.all(done);
    manager.syncKnownProcesses([]);
    await clock.settle();
    manager.syncKnownProcesses([]);
    expect(manager.list()).toEqual([]);
    expect(syncer.overlaps).toEqual([]);
    await manager.shutdown();
    expect(clock.pendingTimers()).toBe(0);
  });
});
