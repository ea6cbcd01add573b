import { spawn } from 'node:child_process';
import { killChildGroups } from '../../helpers/leaks.js';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResourcesSpec } from '../../../src/config/index.js';
import { readRssBytes, readStat } from '../../../src/supervisor/proc.js';
import { ResourceMonitor, sampleGroup } from '../../../src/supervisor/resources.js';
import type { GroupSample, ResourceBreach, ResourceUsage } from '../../../src/supervisor/resources.js';
import { realClock, silentLogger, sleep } from '../../../src/util/index.js';

const MiB = 2 ** 20;
// Blocks the child's main thread forever without a timer.
const PARK = 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);';
const ALLOC_100MIB = `globalThis.b = Buffer.alloc(100 * 2 ** 20, 1); process.stdout.write('ready\\n'); ${PARK}`;

const children: ChildProcess[] = [];
const monitors: ResourceMonitor[] = [];

function start(command: string, args: string[]): ChildProcess & { pid: number } {
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  if (child.pid === undefined) throw new Error(`spawn ${command} failed`);
  return child as ChildProcess & { pid: number };
}

function node(code: string): ChildProcess & { pid: number } {
  return start(process.execPath, ['-e', code]);
}

/** Resolves once the child printed `ready` (its setup is done). */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.once('exit', () => reject(new Error('child exited before it was ready')));
  });
}

async function until<T>(fn: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  for (const end = realClock.now() + timeoutMs; realClock.now() < end; await sleep(realClock, 25)) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
  }
  throw new Error('condition not met in time');
}

function monitor(pid: number, spec: Partial<ResourcesSpec>) {
  const breaches: ResourceBreach[] = [];
  const samples: ResourceUsage[] = [];
  const m = new ResourceMonitor({
    id: 'test',
    pid,
    startTimeTicks: readStat(pid)?.startTimeTicks ?? -1,
    spec: { interval: 100, action: 'log', ...spec },
    clock: realClock,
    logger: silentLogger,
    onSample: (u) => samples.push(u),
    onBreach: (b) => breaches.push(b),
  });
  monitors.push(m);
  m.start();
  return { m, breaches, samples };
}

afterEach(async () => {
  for (const m of monitors.splice(0)) m.stop();
  await killChildGroups(children);
});

describe('resource sampling with real processes', () => {
  it('a child holding ~100 MiB breaches a 50 MiB memory limit', async () => {
    const child = node(ALLOC_100MIB);
    await ready(child);
    const { breaches } = monitor(child.pid, { memory: 50 * MiB, action: 'restart' });
    const breach = await until(() => breaches[0]);
    expect(breach).toMatchObject({ id: 'test', resource: 'memory', limit: 50 * MiB, action: 'restart' });
    expect(breach.value).toBeGreaterThan(100 * MiB);
  });

  it('a busy loop shows high CPU %, and none on the first sample', async () => {
    const child = node('for (;;) {}');
    const { samples, breaches } = monitor(child.pid, { cpuPercent: 50 });
    await until(() => samples.length > 0);
    expect(samples[0]?.cpuPercent).toBeUndefined();
    await until(() => samples.some((s) => (s.cpuPercent ?? 0) > 50));
    expect(breaches.length).toBeGreaterThan(0);
    expect(breaches[0]).toMatchObject({ resource: 'cpu', limit: 50 });
  });

  it('counts the open files of the leader', async () => {
    const child = node(`const fs = require('fs'); for (let i = 0; i < 40; i++) fs.openSync('/dev/null', 'r'); process.stdout.write('ready\\n'); ${PARK}`);
    await ready(child);
    const { breaches, samples } = monitor(child.pid, { openFiles: 30 });
    await until(() => samples.length > 0);
    expect(samples[0]?.openFiles).toBeGreaterThanOrEqual(43);
    expect(breaches[0]).toMatchObject({ resource: 'openFiles', limit: 30 });
  });

  it('sums RSS over the group, grandchildren included', async () => {
    // A shell leader whose child allocates: the leader alone is small, the group is not.
    const sh = start('sh', ['-c', '"$0" -e "$1" & wait', process.execPath, ALLOC_100MIB]);
    await ready(sh);
    const sample: GroupSample = sampleGroup(sh.pid, undefined, realClock.now());
    expect(sample.processes).toBe(2);
    expect(sample.rssBytes).toBeGreaterThan(100 * MiB);
    expect(readRssBytes(sh.pid)).toBeLessThan(20 * MiB);
    expect(sample.cpuPercent).toBeUndefined();
    await sleep(realClock, 50);
    const next = sampleGroup(sh.pid, sample, realClock.now());
    expect(next.cpuPercent).toBeGreaterThanOrEqual(0);
  });

  it('stops by itself when the process exits', async () => {
    const child = start('sleep', ['30']);
    const { m, samples } = monitor(child.pid, {});
    await until(() => samples.length > 0);
    process.kill(-child.pid, 'SIGKILL');
    await until(() => !m.running);
    const count = samples.length;
    await sleep(realClock, 300);
    expect(samples.length).toBe(count);
  });
});
