import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../../src/supervisor/proc.js';
import { NODE, fixture, supervised } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';

let h: ReturnType<typeof supervised>;
const others: ChildProcess[] = [];
afterEach(async () => {
  await h.close();
  for (const c of others.splice(0)) c.kill('SIGKILL');
});

function service(): ChildProcess {
  const c = spawn('sleep', ['1000'], { stdio: 'ignore' });
  others.push(c);
  return c;
}

describe('resource limits', () => {
  it.each([
    ['restart', 'SIGTERM'],
    ['kill', 'SIGKILL'],
  ] as const)('a memory breach with action %s ends the run (%s) and the policy restarts it', async (action, signal) => {
    h = supervised();
    h.create('hog', {
      command: NODE, args: [fixture('alloc.mjs'), '120'],
      restart: { delay: '10ms', breaker: { maxFailures: 0 } },
      resources: { interval: '100ms', memory: '50Mi', action },
    });
    await eventually('breach', () => h.of('resource', 'hog').length > 0);
    await eventually('restart', () => h.of('started', 'hog').length >= 2);
    const breach = h.of('resource', 'hog')[0];
    expect(breach).toMatchObject({ resource: 'memory', limit: 50 * 2 ** 20, action });
    expect(breach?.value).toBeGreaterThan(50 * 2 ** 20);
    const exit = h.of('exited', 'hog')[0];
    expect(exit?.signal).toBe(signal);
    expect(exit?.reason).toMatch(/^memory limit exceeded/);
  });

  it('action log only reports, and usage is in the status', async () => {
    h = supervised();
    h.create('hog', { command: NODE, args: [fixture('alloc.mjs'), '80'], resources: { interval: '100ms', memory: '40Mi', action: 'log' } });
    await eventually('two breaches', () => h.of('resource', 'hog').length >= 2);
    expect(h.of('started', 'hog')).toHaveLength(1);
    expect(h.of('exited', 'hog')).toHaveLength(0);
    const usage = h.supervisor.status('hog')?.usage;
    expect(usage?.rssBytes).toBeGreaterThan(40 * 2 ** 20);
    expect(usage?.openFiles).toBeGreaterThan(2);
  });
});

describe('unmanaged processes', () => {
  it('attaches by pid file, monitors and probes, notices the exit, and never signals on termination', async () => {
    h = supervised();
    const pidFile = join(h.dir(), 'svc.pid');
    const svc = service();
    writeFileSync(pidFile, `${svc.pid}\n`);
    h.create('ext', { kind: 'unmanaged', pidFile, probes: { readiness: { exec: { command: 'true' }, interval: '50ms' } } });
    expect(await h.running('ext')).toBe(svc.pid);
    await eventually('ready', () => h.supervisor.status('ext')?.ready);
    expect(h.supervisor.status('ext')?.adopted).toBe(true);
    await h.manager.terminate('ext');
    expect(isAlive(svc.pid!)).toBe(true); // detached, not killed
    expect(h.of('started')).toHaveLength(0);
  });

  it('sees the exit by polling and re-attaches when the pid file points at a new process', async () => {
    h = supervised({ manager: { backoff: { baseMs: 50, maxMs: 100 } } });
    const pidFile = join(h.dir(), 'svc.pid');
    const first = service();
    writeFileSync(pidFile, String(first.pid));
    h.create('ext', { kind: 'unmanaged', pidFile });
    await h.running('ext');
    first.kill('SIGKILL');
    await eventually('Stopped', () => h.state('ext') === 'Stopped');
    await eventually('attach error', () => h.supervisor.status('ext')?.lastError ?? h.manager.getStatus('ext')?.lastError);
    const second = service();
    writeFileSync(pidFile, String(second.pid));
    await eventually('attached to the new pid', () => h.pid('ext') === second.pid && h.state('ext') === 'Running');
  });

  it('switching kind never signals the unmanaged process and never leaves our child running', async () => {
    h = supervised();
    const svc = service();
    h.create('x', { kind: 'unmanaged', pid: svc.pid! });
    await h.running('x');
    h.manager.updateProcess({ id: 'x', type: 'update', config: { command: 'sleep', args: ['1000'] } });
    const ours = await eventually('our own child', () => (h.pid('x') !== svc.pid && h.state('x') === 'Running' ? h.pid('x') : undefined));
    expect(isAlive(svc.pid!)).toBe(true);
    h.manager.updateProcess({ id: 'x', type: 'update', config: { kind: 'unmanaged', pid: svc.pid! } });
    await eventually('attached again', () => h.pid('x') === svc.pid);
    expect(isAlive(ours)).toBe(false);
  });

  it('an explicit stop does signal it', async () => {
    h = supervised();
    const svc = service();
    const gone = new Promise((r) => svc.once('exit', (_c, s) => r(s)));
    h.create('ext', { kind: 'unmanaged', pid: svc.pid! });
    await h.running('ext');
    await h.supervisor.stop('ext');
    expect(await gone).toBe('SIGTERM');
    await eventually('Disabled', () => h.state('ext') === 'Disabled');
  });
});
