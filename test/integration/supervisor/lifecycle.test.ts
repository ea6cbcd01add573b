import { afterEach, describe, expect, it } from 'vitest';
import { descendantsOf, isAlive, readStat } from '../../../src/supervisor/proc.js';
import { realClock } from '../../../src/util/index.js';
import { NODE, fixture, supervised } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';
import { markedPids } from '../../helpers/leaks.js';

let h: ReturnType<typeof supervised>;

/** Cleanup for a test that failed before procmgr killed `pid` (a leak would fail the tests after it). */
function killIfAlive(pid: number): void {
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}
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
    await eventually('ready line', () => h.supervisor.logs('stubborn').some((l) => l.line === 'ready'));
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
    // All four, one of them past its setsid (caught before it, it is still in the group).
    const kids = await eventually('4 descendants, one in a session of its own', () => {
      const d = descendantsOf(pid);
      return d.length >= 4 && d.some((k) => k.pgrp !== pid) ? d : undefined;
    });
    expect(kids.some((k) => k.pgrp !== pid)).toBe(true); // the setsid one escaped the group
    await h.manager.terminate('forker');
    for (const k of kids) expect(readStat(k.pid)?.state ?? 'gone', `pid ${k.pid} ${k.comm}`).toMatch(/gone|Z/);
    expect(markedPids()).toEqual([]);
  });

  it('with killMode tree, kills a setsid descendant of a leader that exited by itself', async () => {
    h = supervised();
    // The escaped process prints its own pid ($$ before exec) and the leader exits once that line has
    // gone through head: exiting sooner, the tree kill could take the escaped sh before its echo.
    const script = `setsid -f sh -c 'echo $$; exec sleep 1000' | head -n 1`;
    h.create('quitter', { command: 'sh', args: ['-c', script], killMode: 'tree', restart: { policy: 'never' } });
    const line = await eventually('the escaped pid', () => h.supervisor.logs('quitter').find((l) => /^\d+$/.test(l.line)));
    const escaped = Number(line.line);
    try {
      await eventually('the exit handled', () => h.of('exited', 'quitter').length === 1);
      await eventually(`escaped pid ${escaped} gone`, () => !isAlive(escaped), 5_000);
    } finally {
      killIfAlive(escaped);
    }
    expect(markedPids()).toEqual([]);
  });

  it('with killMode tree, a stop also kills a descendant whose parent chain broke before the stop', async () => {
    h = supervised();
    // A double fork (setsid -f's parent exits): the sleep is no descendant of the leader in /proc any more.
    const script = `setsid -f sh -c 'echo $$; exec sleep 1000'; exec sleep 1000`;
    h.create('daemonizer', { command: 'sh', args: ['-c', script], killMode: 'tree', stopGracePeriod: '2s' });
    const pid = await h.running('daemonizer');
    const line = await eventually('the escaped pid', () => h.supervisor.logs('daemonizer').find((l) => /^\d+$/.test(l.line)));
    const escaped = Number(line.line);
    await eventually('re-parented away from the leader', () => readStat(escaped)?.ppid !== pid && readStat(escaped)?.ppid !== undefined);
    try {
      expect(descendantsOf(pid).map((s) => s.pid)).not.toContain(escaped);
      await h.manager.terminate('daemonizer');
      expect(isAlive(escaped)).toBe(false);
    } finally {
      killIfAlive(escaped);
    }
    expect(markedPids()).toEqual([]);
  });

  it('by default (killMode group) stops the whole group and leaves a setsid descendant alone', async () => {
    h = supervised();
    h.create('forker', { command: fixture('forker.sh'), stopGracePeriod: '2s' });
    const pid = await h.running('forker');
    // All four, one of them past its setsid (caught before it, it is still in the group).
    const kids = await eventually('4 descendants, one in a session of its own', () => {
      const d = descendantsOf(pid);
      return d.length >= 4 && d.some((k) => k.pgrp !== pid) ? d : undefined;
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
    await eventually('the escaped one reaped by init', () => markedPids().length === 0);
  });

  it('records exit code and signal and requeues at once on exit', async () => {
    h = supervised();
    h.create('oneshot', { command: 'sh', args: ['-c', 'exit 3'], restart: { policy: 'never' } });
    await eventually('Failed', () => h.state('oneshot') === 'Failed');
    const exit = h.supervisor.status('oneshot')?.lastExit;
    expect(exit?.code).toBe(3);
    expect(exit?.signal).toBeNull();
    // never + exit → terminal: the engine finishes it
    await eventually('Finished', () => h.manager.isFinished('oneshot'));
  });
});
