import { afterEach, describe, expect, it } from 'vitest';
import { readStat, descendantsOf } from '../../../src/supervisor/proc.js';
import { realClock } from '../../../src/util/index.js';
import { NODE, fixture, supervised, waitFor } from '../../helpers/supervised.js';
import { markedPids } from '../../helpers/leaks.js';

let h: ReturnType<typeof supervised>;
afterEach(async () => h.close());

describe('spawn and stop', () => {
  it('spawns without a shell in its own process group and stops with SIGTERM', async () => {
    h = supervised();
    h.create('sleeper', { command: 'sleep', args: ['1000'] });
    const pid = await h.running('sleeper');
    const stat = readStat(pid);
    expect(stat?.comm).toBe('sleep'); // no shell in between
    expect(stat?.pgrp).toBe(pid); // its own group
    expect(stat?.ppid).toBe(process.pid);
    await h.manager.terminate('sleeper');
    expect(readStat(pid)).toBeUndefined();
    const exit = h.of('exited', 'sleeper')[0];
    expect(exit?.signal).toBe('SIGTERM');
    expect(h.state('sleeper')).toBe('Stopped');
  });

  it('kills a child that ignores SIGTERM at the grace period, not before', async () => {
    h = supervised();
    h.create('stubborn', { command: NODE, args: [fixture('ignore-term.mjs')], stopGracePeriod: '1500ms' });
    await h.running('stubborn');
    await waitFor('ready line', () => h.supervisor.logs('stubborn').some((l) => l.line === 'ready'));
    const t0 = realClock.now();
    await h.manager.terminate('stubborn');
    const took = realClock.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1_400);
    expect(h.supervisor.logs('stubborn').map((l) => l.line)).toContain('got SIGTERM');
    expect(h.of('exited', 'stubborn')[0]?.signal).toBe('SIGKILL');
  });

  it('leaves no grandchild behind; with killMode tree, also not one that left the group with setsid', async () => {
    h = supervised();
    h.create('forker', { command: fixture('forker.sh'), stopGracePeriod: '2s', killMode: 'tree' });
    const pid = await h.running('forker');
    const kids = await waitFor('4 descendants', () => {
      const d = descendantsOf(pid);
      return d.length >= 4 ? d : undefined;
    });
    expect(kids.some((k) => k.pgrp !== pid)).toBe(true); // the setsid one escaped the group
    await h.manager.terminate('forker');
    for (const k of kids) expect(readStat(k.pid)?.state ?? 'gone', `pid ${k.pid} ${k.comm}`).toMatch(/gone|Z/);
    expect(markedPids()).toEqual([]);
  });

  it('by default (killMode group) stops the whole group and leaves a setsid descendant alone', async () => {
    h = supervised();
    h.create('forker', { command: fixture('forker.sh'), stopGracePeriod: '2s' });
    const pid = await h.running('forker');
    const kids = await waitFor('4 descendants', () => {
      const d = descendantsOf(pid);
      return d.length >= 4 ? d : undefined;
    });
    const escaped = kids.filter((k) => k.pgrp !== pid);
    expect(escaped).toHaveLength(1);
    try {
      await h.manager.terminate('forker');
      for (const k of kids.filter((k) => k.pgrp === pid)) expect(readStat(k.pid)?.state ?? 'gone', `pid ${k.pid} ${k.comm}`).toMatch(/gone|Z/);
      expect(readStat(escaped[0]?.pid ?? 0)?.state ?? 'gone').not.toMatch(/gone|Z/);
    } finally {
      for (const k of escaped) process.kill(k.pid, 'SIGKILL');
    }
    await waitFor('the escaped one reaped by init', () => markedPids().length === 0);
  });

  it('records exit code and signal and requeues at once on exit', async () => {
    h = supervised();
    h.create('oneshot', { command: 'sh', args: ['-c', 'exit 3'], restart: { policy: 'never' } });
    await waitFor('Failed', () => h.state('oneshot') === 'Failed');
    const exit = h.supervisor.status('oneshot')?.lastExit;
    expect(exit?.code).toBe(3);
    expect(exit?.signal).toBeNull();
    // never + exit → terminal: the engine finishes it
    await waitFor('Finished', () => h.manager.isFinished('oneshot'));
  });
});
