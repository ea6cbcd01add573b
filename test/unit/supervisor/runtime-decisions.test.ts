import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseProcessSpec, type ProcessSpecInput } from '../../../src/config/index.js';
import type { SyncResult } from '../../../src/core/index.js';
import { configHash, StateStore, Supervisor, type SupervisorEvent } from '../../../src/supervisor/index.js';
import { FakeClock, flushMicrotasks } from '../../../src/util/index.js';
import { FakeOs, stat } from './fake-os.js';

/*
 * The runtime's decisions (restart delay, policy, breaker, reattach) with a recording fake of the
 * OS port and a fake clock: the sync calls are made by hand, as the engine would make them.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(opts: { stateDir?: string } = {}) {
  const clock = new FakeClock();
  const os = new FakeOs(clock);
  const events: SupervisorEvent[] = [];
  const requeued: string[] = [];
  const sup = new Supervisor({ clock, os, onEvent: (e) => events.push(e), ...opts });
  sup.setRequeue((id) => requeued.push(id));
  const sync = (config: ProcessSpecInput, id = 'p'): Promise<SyncResult> =>
    sup.syncProcess({ id, config, signal: new AbortController().signal, updateType: 'sync', attempt: 0 });
  /** The latest run exits, and the exit event's callbacks run. */
  const exit = async (code: number | null, afterMs = 100): Promise<void> => {
    clock.advance(afterMs);
    os.exit(code);
    await flushMicrotasks();
  };
  return { clock, os, events, requeued, sup, sync, exit, status: (id = 'p') => sup.status(id) };
}

const base = { command: 'fake' };

describe('restart delay', () => {
  const config = { ...base, restart: { policy: 'always', delay: '1s', multiplier: 2, maxDelay: '4s', resetAfter: '10s', breaker: { maxFailures: 0 } } } as const;

  it('grows with each quick exit up to maxDelay, and starts over after a run of resetAfter', async () => {
    const t = setup();
    expect(await t.sync(config)).toEqual({ requeueAfterMs: 10_000 });
    const delays: (number | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      await t.exit(1);
      expect(t.requeued.at(-1)).toBe('p');
      expect(t.status()?.state).toBe('Backoff');
      const wait = await t.sync(config);
      delays.push(wait.requeueAfterMs);
      t.clock.advance(wait.requeueAfterMs ?? 0);
      await t.sync(config);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 4_000]);
    expect(t.os.spawns).toBe(5);
    expect(t.status()?.failures).toBe(4);
    // This run lasts resetAfter: the resync credits it, and the next failure waits the first delay again.
    t.clock.advance(10_000);
    expect(await t.sync(config)).toEqual({});
    expect(t.status()?.failures).toBe(0);
    await t.exit(1);
    expect((await t.sync(config)).requeueAfterMs).toBe(1_000);
    expect(t.status()?.restarts).toBe(4);
  });

  it('is waived by an explicit restart, which is counted apart', async () => {
    const t = setup();
    await t.sync(config);
    await t.exit(1);
    expect((await t.sync(config)).requeueAfterMs).toBe(1_000);
    t.sup.restart('p');
    await t.sync(config);
    expect(t.os.spawns).toBe(2);
    expect(t.status()?.state).toBe('Running');
    t.sup.restart('p');
    await t.sync(config);
    expect(t.os.calls.filter((c) => c.startsWith('stop '))).toEqual(['stop 1001 SIGTERM']);
    expect(t.os.spawns).toBe(3);
    expect(t.status()).toMatchObject({ restarts: 1, requestedRestarts: 1, failures: 0 });
  });
});

describe('restart policy', () => {
  it.each([
    { policy: 'always', code: 0, restarts: true, state: 'Backoff' },
    { policy: 'always', code: 1, restarts: true, state: 'Backoff' },
    { policy: 'unless-stopped', code: 0, restarts: true, state: 'Backoff' },
    { policy: 'on-failure', code: 0, restarts: false, state: 'Stopped' },
    { policy: 'on-failure', code: 1, restarts: true, state: 'Backoff' },
    { policy: 'never', code: 0, restarts: false, state: 'Stopped' },
    { policy: 'never', code: 1, restarts: false, state: 'Failed' },
  ] as const)('$policy after exit code $code: restarts $restarts ($state)', async ({ policy, code, restarts, state }) => {
    const t = setup();
    const config = { ...base, restart: { policy, delay: '1s' } };
    await t.sync(config);
    await t.exit(code);
    expect(t.status()?.state).toBe(state);
    const result = await t.sync(config);
    if (restarts) {
      expect(result).toEqual({ requeueAfterMs: 1_000 });
      t.clock.advance(1_000);
      await t.sync(config);
      expect(t.os.spawns).toBe(2);
      expect(t.status()).toMatchObject({ state: 'Running', restarts: 1 });
    } else {
      expect(result).toEqual({ terminal: true });
      expect(t.os.spawns).toBe(1);
      expect(t.status()?.lastExit?.code).toBe(code);
    }
    expect(t.os.calls).toContain('leftovers 1000'); // what a run leaves behind goes with it
  });

  it('an explicit stop holds the process until an explicit start', async () => {
    const t = setup();
    const config = { ...base, restart: { policy: 'always', delay: '1s' } } as const;
    await t.sync(config);
    await t.sup.stop('p');
    expect(await t.sync(config)).toEqual({});
    expect(t.status()?.state).toBe('Disabled');
    t.clock.advance(60_000);
    await t.sync(config);
    expect(t.os.spawns).toBe(1);
    await t.sup.start('p');
    await t.sync(config);
    expect(t.os.spawns).toBe(2);
    expect(t.status()).toMatchObject({ state: 'Running', restarts: 0, requestedRestarts: 1 });
  });
});

describe('circuit breaker', () => {
  const config = { ...base, restart: { policy: 'always', delay: '0s', resetAfter: '10s', breaker: { maxFailures: 3, window: '1m', cooldown: '30s' } } } as const;
  const breakerStates = (events: SupervisorEvent[]) => events.flatMap((e) => (e.type === 'breaker' ? [e.state] : []));

  it('opens after maxFailures in the window, lets one trial through after the cooldown, and a failed trial opens it again', async () => {
    const t = setup();
    await t.sync(config);
    for (let i = 0; i < 2; i++) {
      await t.exit(1);
      expect(await t.sync(config)).toEqual({ requeueAfterMs: 10_000 }); // restarted at once
    }
    await t.exit(1);
    expect(t.status()?.breaker?.state).toBe('open');
    expect(await t.sync(config)).toEqual({ requeueAfterMs: 30_000 });
    expect(t.status()?.state).toBe('Backoff');
    t.clock.advance(29_999);
    expect(await t.sync(config)).toEqual({ requeueAfterMs: 1 });
    expect(t.os.spawns).toBe(3);
    t.clock.advance(1);
    await t.sync(config);
    expect(t.os.spawns).toBe(4);
    expect(breakerStates(t.events)).toEqual(['open', 'halfOpen']);
    await t.exit(1);
    expect(breakerStates(t.events)).toEqual(['open', 'halfOpen', 'open']);
    expect(await t.sync(config)).toEqual({ requeueAfterMs: 30_000 });
  });

  it('a trial that lasts resetAfter closes it', async () => {
    const t = setup();
    await t.sync(config);
    for (let i = 0; i < 3; i++) {
      await t.exit(1);
      await t.sync(config);
    }
    t.clock.advance(30_000);
    await t.sync(config);
    t.clock.advance(10_000);
    expect(await t.sync(config)).toEqual({});
    expect(breakerStates(t.events)).toEqual(['open', 'halfOpen', 'closed']);
    expect(t.status()?.breaker?.state).toBe('closed');
  });

  it('an explicit start overrides an open breaker', async () => {
    const t = setup();
    await t.sync(config);
    for (let i = 0; i < 3; i++) {
      await t.exit(1);
      await t.sync(config);
    }
    expect(t.status()?.breaker?.state).toBe('open');
    await t.sup.start('p');
    await t.sync(config);
    expect(t.os.spawns).toBe(4);
    expect(t.status()?.breaker?.state).toBe('closed');
  });
});

describe('reattach after a daemon restart', () => {
  const config = { ...base, restart: { policy: 'always', delay: '1s' } } as const;
  const hash = configHash(parseProcessSpec(config));

  async function withRecord(rec: { configHash: string; startTimeTicks: number }, live: { startTimeTicks: number } | undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'procmgr-reattach-'));
    dirs.push(dir);
    await new StateStore(dir).write({ id: 'p', pid: 4242, startTimeTicks: rec.startTimeTicks, configHash: rec.configHash, startedAt: 1, restarts: 2, requestedRestarts: 1 });
    const t = setup({ stateDir: dir });
    if (live) t.os.procs.set(4242, stat(4242, live.startTimeTicks));
    return t;
  }

  it('adopts the recorded process when pid, start time and config match, and restarts it when it exits', async () => {
    const t = await withRecord({ configHash: hash, startTimeTicks: 77 }, { startTimeTicks: 77 });
    await t.sync(config);
    expect(t.os.calls).toEqual(['adopt 4242']);
    expect(t.status()).toMatchObject({ state: 'Running', pid: 4242, adopted: true, restarts: 2, requestedRestarts: 1 });
    expect(t.events.some((e) => e.type === 'reattached' && e.pid === 4242)).toBe(true);
    await t.exit(null);
    t.clock.advance((await t.sync(config)).requeueAfterMs ?? 0);
    await t.sync(config);
    expect(t.os.spawns).toBe(1);
    expect(t.status()).toMatchObject({ state: 'Running', adopted: false, restarts: 3, requestedRestarts: 1 });
  });

  it.each([
    { name: 'a reused pid', rec: { configHash: hash, startTimeTicks: 77 }, live: { startTimeTicks: 99 }, reason: 'pidReused', stops: [], restarts: 3, requested: 1 },
    { name: 'a gone process', rec: { configHash: hash, startTimeTicks: 77 }, live: undefined, reason: 'gone', stops: [], restarts: 3, requested: 1 },
    { name: 'another config', rec: { configHash: 'other', startTimeTicks: 77 }, live: { startTimeTicks: 77 }, reason: 'configChanged', stops: ['stop 4242 SIGTERM'], restarts: 2, requested: 2 },
  ])('refuses $name ($reason) and starts a new run', async ({ rec, live, reason, stops, restarts, requested }) => {
    const t = await withRecord(rec, live);
    await t.sync(config);
    expect(t.events.some((e) => e.type === 'reattachRefused' && e.reason === reason)).toBe(true);
    expect(t.os.calls.filter((c) => c.startsWith('stop '))).toEqual(stops);
    expect(t.os.spawns).toBe(1);
    expect(t.status()).toMatchObject({ state: 'Running', adopted: false, restarts, requestedRestarts: requested });
  });
});
