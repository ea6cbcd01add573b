import { describe, expect, it } from 'vitest';
import type { ProcessEntry, ProcessSpecInput } from '../../../src/config/index.js';
import { ProcessManager } from '../../../src/core/index.js';
import { DesiredSet } from '../../../src/daemon/index.js';
import type { RuntimeStatus } from '../../../src/supervisor/index.js';
import { FakeClock, flushMicrotasks, silentLogger, sleep } from '../../../src/util/index.js';
import { RecordingSyncer } from '../../helpers/recording-syncer.js';

function entry(id: string, args: string[] = [], dependsOn: string[] = []): ProcessEntry {
  return { id, dependsOn: dependsOn.map((d) => ({ id: d, condition: 'ready' as const })), spec: { command: 'sleep', args } };
}

function setup() {
  const clock = new FakeClock();
  const syncer = new RecordingSyncer<ProcessSpecInput>(clock);
  const manager = new ProcessManager<ProcessSpecInput>({ syncer, clock, random: () => 0.5 });
  const ready = new Set<string>();
  const status = (id: string): RuntimeStatus | undefined => (ready.has(id) ? ({ id, ready: true, state: 'Running' } as RuntimeStatus) : undefined);
  const set = new DesiredSet({ manager, status, logger: silentLogger, clock });
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await flushMicrotasks();
  };
  return { clock, syncer, manager, ready, set, settle };
}

describe('DesiredSet', () => {
  it('creates what is new, updates only what changed, and terminates what is gone', async () => {
    const { syncer, manager, set, settle } = setup();
    expect(set.apply([entry('a', ['1']), entry('b', ['1'])])).toEqual({ created: ['a', 'b'], updated: [], removed: [], unchanged: [] });
    await settle();
    expect(syncer.calls.map((c) => `${c.hook} ${c.id} ${c.updateType}`)).toEqual(['syncProcess a create', 'syncProcess b create']);

    syncer.calls.length = 0;
    // Same specs, other key order: not a change.
    const sameA: ProcessEntry = { id: 'a', dependsOn: [], spec: { args: ['1'], command: 'sleep' } };
    expect(set.apply([sameA, entry('b', ['2'])])).toEqual({ created: [], updated: ['b'], removed: [], unchanged: ['a'] });
    await settle();
    expect(syncer.calls.map((c) => `${c.hook} ${c.id} ${c.updateType}`)).toEqual(['syncProcess b update']);

    syncer.calls.length = 0;
    expect(set.apply([sameA])).toMatchObject({ removed: ['b'] });
    await settle();
    expect(syncer.hooks('b')).toEqual(['syncTerminating', 'syncTerminated']);
    expect(manager.getStatus('a')?.phase).toBe('Syncing');
  });

  it('declares a process only once its dependencies are ready, and says what it waits for', async () => {
    const { syncer, ready, set, settle } = setup();
    set.apply([entry('worker', [], ['db', 'cache']), entry('db'), entry('cache')]);
    await settle();
    expect(syncer.calls.map((c) => c.id)).toEqual(['db', 'cache']);
    expect(set.waiting.get('worker')).toEqual(['db', 'cache']);
    ready.add('db');
    set.reconcile();
    expect(set.waiting.get('worker')).toEqual(['cache']);
    ready.add('cache');
    set.reconcile();
    await settle();
    expect(set.waiting.size).toBe(0);
    expect(syncer.calls.map((c) => c.id)).toEqual(['db', 'cache', 'worker']);
  });

  it('an id removed and added back while it still stops is created anew once it has finished', async () => {
    const { syncer, manager, set, settle } = setup();
    let release: () => void = () => undefined;
    syncer.on('syncTerminating', () => new Promise<void>((r) => (release = r)));
    set.apply([entry('a')]);
    await settle();
    set.apply([]);
    await settle();
    expect(manager.getStatus('a')?.phase).toBe('Terminating');
    set.apply([entry('a', ['new'])]);
    await settle();
    expect(syncer.of('a', 'syncProcess')).toHaveLength(1); // not yet: it is still stopping
    release();
    await settle();
    set.reconcile(); // the daemon does this on every phase event
    await settle();
    const creates = syncer.of('a', 'syncProcess');
    expect(creates).toHaveLength(2);
    expect(creates[1]?.config).toEqual({ command: 'sleep', args: ['new'] });
  });
});

describe('DesiredSet at capacity', () => {
  it('a new set within capacity is applied whole while the old one still stops: new ids wait for the slots and start as they free', async () => {
    const clock = new FakeClock();
    const syncer = new RecordingSyncer<ProcessSpecInput>(clock);
    let release: () => void = () => undefined;
    const stopping = new Promise<void>((r) => (release = r));
    syncer.on('syncTerminating', () => stopping);
    const manager = new ProcessManager<ProcessSpecInput>({ syncer, clock, random: () => 0.5, maxProcesses: 2 });
    const set: DesiredSet = new DesiredSet({ manager, status: () => undefined, logger: silentLogger, clock, capacity: 2 });
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) await flushMicrotasks();
    };
    set.apply([entry('a'), entry('b')]);
    await settle();
    // Old a, b still stopping hold both slots: the apply does not throw, and c, d are the desired set.
    expect(() => set.apply([entry('c'), entry('d')])).not.toThrow();
    expect([...set.entries.keys()]).toEqual(['c', 'd']);
    await settle();
    expect(manager.getStatus('c')).toBeUndefined();
    release();
    await settle();
    // Finished a, b are removed on the next reconcile (their removal events trigger it in the daemon).
    set.reconcile();
    await settle();
    expect(manager.list().map((s) => s.id).sort()).toEqual(['c', 'd']);
    expect(syncer.calls.filter((c) => c.hook === 'syncProcess').map((c) => c.id)).toEqual(['a', 'b', 'c', 'd']);
  });
});

/** A real manager that counts the calls of DesiredSet's that visit every process or build a snapshot. */
class CountingManager extends ProcessManager<ProcessSpecInput> {
  readonly counts = { syncKnownProcesses: 0, getStatus: 0, list: 0 };

  override syncKnownProcesses(desired: Iterable<string>): ReturnType<ProcessManager<ProcessSpecInput>['syncKnownProcesses']> {
    this.counts.syncKnownProcesses++;
    return super.syncKnownProcesses(desired);
  }

  override getStatus(id: string): ReturnType<ProcessManager<ProcessSpecInput>['getStatus']> {
    this.counts.getStatus++;
    return super.getStatus(id);
  }

  override list(): ReturnType<ProcessManager<ProcessSpecInput>['list']> {
    this.counts.list++;
    return super.list();
  }
}

/**
 * The daemon's wiring: every engine event goes to the set, and so does a runtime change per phase
 * event (as the supervisor's state events would). Process `p<i>` starts `i + 1` ms after it is
 * created and stops `i + 1` ms after it is told to: one event at a time, as real spawns and exits come.
 */
function wired() {
  const clock = new FakeClock();
  const syncer = new RecordingSyncer<ProcessSpecInput>(clock);
  const staggered = (ctx: { readonly id: string }): Promise<void> => sleep(clock, Number(ctx.id.slice(1)) + 1);
  syncer.on('syncTerminating', staggered);
  const started = new Set<string>();
  syncer.on('syncProcess', async (ctx) => {
    if (!started.has(ctx.id)) await staggered(ctx);
    started.add(ctx.id);
  });
  const listener: { set?: DesiredSet } = {};
  const manager = new CountingManager({
    syncer,
    clock,
    random: () => 0.5,
    onEvent: (e) => {
      listener.set?.onManagerEvent(e);
      if (e.type === 'phase') listener.set?.onRuntimeChange();
    },
  });
  const set = (listener.set = new DesiredSet({ manager, status: () => undefined, logger: silentLogger, clock }));
  return { clock, manager, set };
}

describe('DesiredSet at scale: the passes over every process do not grow with the number of events', () => {
  it.each([50, 500])('%i processes: one pass to start them all, none per state change', async (n) => {
    const { clock, manager, set } = wired();
    set.apply(Array.from({ length: n }, (_, i) => entry(`p${i}`)));
    await clock.tick(n + 1_000);
    expect(manager.health().byPhase.Syncing).toBe(n);
    // The apply's own reconcile; each of the n Starting → Syncing events (and runtime changes) adds none.
    expect(manager.counts).toEqual({ syncKnownProcesses: 1, getStatus: 0, list: 0 });
  });

  it.each([50, 500])('%i processes stopping, one exit per ms: reconciles are coalesced, and every one is removed', async (n) => {
    const { clock, manager, set } = wired();
    set.apply(Array.from({ length: n }, (_, i) => entry(`p${i}`)));
    await clock.tick(n + 1_000);
    manager.counts.syncKnownProcesses = 0;
    set.apply([]);
    await clock.tick(n + 1_000);
    expect(manager.list()).toEqual([]);
    // One per 100 ms of finishing, plus the apply's and the last removals': ~n/100, never one per process.
    expect(manager.counts.syncKnownProcesses).toBeLessThanOrEqual(Math.ceil(n / 100) + 3);
    expect(manager.counts.getStatus).toBe(0);
  });

  it('a process waiting for a dependency starts on the runtime change that satisfies it, without a reconcile by hand', async () => {
    const clock = new FakeClock();
    const syncer = new RecordingSyncer<ProcessSpecInput>(clock);
    const manager = new ProcessManager<ProcessSpecInput>({ syncer, clock, random: () => 0.5 });
    const ready = new Set<string>();
    const status = (id: string): RuntimeStatus | undefined => (ready.has(id) ? ({ id, ready: true, state: 'Running' } as RuntimeStatus) : undefined);
    const set = new DesiredSet({ manager, status, logger: silentLogger, clock });
    set.apply([entry('db'), entry('worker', [], ['db'])]);
    await clock.tick(1_000);
    expect(manager.phase('worker')).toBeUndefined();
    ready.add('db');
    set.onRuntimeChange();
    await clock.tick(1_000); // within the coalescing window of the apply's reconcile or not, it runs
    expect(manager.phase('worker')).toBe('Syncing');
  });
});
