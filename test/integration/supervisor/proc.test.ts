import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  countOpenFiles,
  descendantsOf,
  groupMembers,
  childPids,
  hasChildrenFiles,
  isAlive,
  listStats,
  liveDescendants,
  parseStat,
  readRssBytes,
  readStat,
  readStatAsync,
} from '../../../src/supervisor/proc.js';
import { realClock, sleep } from '../../../src/util/index.js';

const children: ChildProcess[] = [];
const dirs: string[] = [];

/** Spawns `command` in its own process group and remembers it for cleanup. */
function start(command: string, args: string[]): ChildProcess & { pid: number } {
  const child = spawn(command, args, { detached: true, stdio: 'ignore' });
  children.push(child);
  if (child.pid === undefined) throw new Error(`spawn ${command} failed`);
  return child as ChildProcess & { pid: number };
}

async function until<T>(fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  for (const end = realClock.now() + timeoutMs; realClock.now() < end; await sleep(realClock, 20)) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
  }
  throw new Error('condition not met in time');
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // group already gone
    }
    await exited(child);
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('parseStat', () => {
  it('splits at the last parenthesis, so comm may hold spaces and parentheses', () => {
    const tail = 'S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 123456 3133440 382 18446744073709551615';
    const s = parseStat(`4242 (a b) (c)) ${tail}`);
    expect(s).toMatchObject({ pid: 4242, comm: 'a b) (c)', state: 'S', ppid: 1, pgrp: 42, session: 42 });
    expect(s).toMatchObject({ utimeTicks: 7, stimeTicks: 3, startTimeTicks: 123456, rssPages: 382 });
  });

  it.each(['', 'garbage', '12 (x) S 1 2'])('rejects malformed text %j', (text) => {
    expect(parseStat(text)).toBeUndefined();
  });
});

describe('/proc primitives', () => {
  it('reads our own child: ppid, own group, stable and distinct start time', async () => {
    const a = start('sleep', ['30']);
    const b = start('sleep', ['30']);
    const sa = await until(() => readStat(a.pid));
    expect(sa).toMatchObject({ pid: a.pid, ppid: process.pid, pgrp: a.pid, session: a.pid });
    // Before exec the child is still a copy of node; wait for the exec to land.
    await until(() => readStat(a.pid)?.comm === 'sleep');
    expect(readStat(a.pid)?.startTimeTicks).toBe(sa.startTimeTicks);
    expect(await readStatAsync(a.pid)).toMatchObject({ pid: a.pid, startTimeTicks: sa.startTimeTicks });
    const sb = await until(() => readStat(b.pid));
    expect(sb.startTimeTicks).toBeGreaterThanOrEqual(sa.startTimeTicks);
    expect(`${sb.pid}:${sb.startTimeTicks}`).not.toBe(`${sa.pid}:${sa.startTimeTicks}`);
    expect(isAlive(a.pid)).toBe(true);
    expect(isAlive(a.pid, sa.startTimeTicks)).toBe(true);
    expect(isAlive(a.pid, sa.startTimeTicks + 1)).toBe(false);
    expect(listStats().map((s) => s.pid)).toEqual(expect.arrayContaining([process.pid, a.pid, b.pid]));
  });

  it('finds the descendants and the group members of a detached shell', async () => {
    const sh = start('sh', ['-c', 'sleep 30 & sleep 30 & wait']);
    const kids = await until(() => {
      const d = descendantsOf(sh.pid).filter((s) => s.comm === 'sleep');
      return d.length === 2 && d;
    });
    expect(kids.every((k) => k.ppid === sh.pid && k.pgrp === sh.pid)).toBe(true);
    const group = groupMembers(sh.pid).map((s) => s.pid);
    expect(group.sort()).toEqual([sh.pid, ...kids.map((k) => k.pid)].sort());
    // From our own pid the tree reaches the grandchildren too.
    expect(descendantsOf(process.pid).map((s) => s.pid)).toEqual(expect.arrayContaining(kids.map((k) => k.pid)));
    expect(descendantsOf(kids[0]?.pid ?? 0)).toEqual([]);
  });

  it('walks the own tree (children files) to the same answer as the full scan, setsid escapees included', async () => {
    expect(hasChildrenFiles()).toBe(true); // mainstream kernels; the scan is only the fallback
    const sh = start('sh', ['-c', 'sleep 30 & setsid sleep 31 & (sleep 32 & wait) & wait']);
    const walked = await until(() => {
      const d = liveDescendants(sh.pid).filter((s) => s.comm === 'sleep');
      return d.length === 3 && d;
    });
    try {
      const scanned = descendantsOf(sh.pid).filter((s) => s.comm === 'sleep');
      expect(walked.map((s) => s.pid).sort()).toEqual(scanned.map((s) => s.pid).sort());
      expect(walked.filter((s) => s.pgrp !== sh.pid)).toHaveLength(1); // the setsid one
      expect(childPids(sh.pid).length).toBeGreaterThanOrEqual(3);
      expect(childPids(2 ** 22 + 1)).toEqual([]); // no such pid
    } finally {
      for (const s of walked) if (s.pgrp !== sh.pid) process.kill(s.pid, 'SIGKILL'); // the group kill of afterEach misses it
    }
  });

  it('treats a zombie and a reaped process as not alive', async () => {
    // The shell forks a short sleep and then execs a long one that never reaps it: a zombie.
    const parent = start('sh', ['-c', 'sleep 0.1 & exec sleep 30']);
    const zombie = await until(() => descendantsOf(parent.pid).find((s) => s.state === 'Z'));
    expect(readStat(zombie.pid)?.state).toBe('Z');
    expect(isAlive(zombie.pid)).toBe(false);
    expect(isAlive(parent.pid)).toBe(true);
    expect(readRssBytes(zombie.pid)).toBeUndefined();

    process.kill(-parent.pid, 'SIGKILL');
    await exited(parent);
    expect(readStat(parent.pid)).toBeUndefined();
    expect(isAlive(parent.pid)).toBe(false);
    expect(readRssBytes(parent.pid)).toBeUndefined();
    expect(countOpenFiles(parent.pid)).toBeUndefined();
  });

  it('reads RSS and open files', async () => {
    const child = start('sleep', ['30']);
    await until(() => readStat(child.pid)?.comm === 'sleep');
    const rss = await until(() => readRssBytes(child.pid));
    expect(rss).toBeGreaterThan(0);
    expect(rss % 1024).toBe(0);
    // stdio is /dev/null: at least fds 0, 1 and 2.
    expect(countOpenFiles(child.pid)).toBeGreaterThanOrEqual(3);
    expect(countOpenFiles(process.pid)).toBeGreaterThan(3);
  });

  it('reads a comm that holds spaces and a parenthesis', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'procmgr-proc-'));
    dirs.push(dir);
    const link = join(dir, 'a b) c');
    symlinkSync('/bin/sleep', link);
    const child = start(link, ['30']);
    const stat = await until(() => {
      const s = readStat(child.pid);
      return s?.comm === 'a b) c' && s;
    });
    expect(stat).toMatchObject({ ppid: process.pid, pgrp: child.pid, state: expect.stringMatching(/^[RS]$/) as unknown });
  });
});
