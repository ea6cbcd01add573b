import { writeFileSync, renameSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessInfo } from '../../../src/api/index.js';
import { isAlive } from '../../../src/supervisor/proc.js';
import { DaemonProcess, eventually, procmgr, writeConfig } from '../../helpers/daemon.js';
import { NODE, fixture, tempDir } from '../../helpers/supervised.js';

const dirs: string[] = [];
const daemons: DaemonProcess[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir('procmgr-daemon-');
  dirs.push(d);
  return d;
}

async function start(file: string): Promise<DaemonProcess> {
  const d = await DaemonProcess.start(file);
  daemons.push(d);
  return d;
}

const TWO_SLEEPERS = `
processManager:
  reload: { debounce: 50ms }
processes:
  - id: a
    command: sleep
    args: ["1000"]
    restart: { delay: 50ms }
  - id: b
    command: sleep
    args: ["1001"]
    restart: { delay: 50ms }
`;

async function processes(d: DaemonProcess): Promise<Map<string, ProcessInfo>> {
  const { body } = await d.json<{ processes: ProcessInfo[] }>('/v1/processes');
  return new Map(body.processes.map((p) => [p.id, p]));
}

/** Pids of `ids` if all of them are Running now. */
async function pidsNow(d: DaemonProcess, ids: string[]): Promise<Map<string, number> | undefined> {
  const ps = await processes(d);
  const pids = new Map<string, number>();
  for (const id of ids) {
    const p = ps.get(id);
    if (p?.state === 'Running' && p.pid !== undefined) pids.set(id, p.pid);
  }
  return pids.size === ids.length ? pids : undefined;
}

function runningPids(d: DaemonProcess, ids: string[]): Promise<Map<string, number>> {
  return eventually(`${ids.join(', ')} running`, () => pidsNow(d, ids));
}

describe('procmgr run (the real daemon as a child process)', () => {
  it('starts, serves the API, and brings a killed process back', async () => {
    const d = await start(writeConfig(dir(), TWO_SLEEPERS));
    expect((await d.json('/healthz')).status).toBe(200);
    const pids = await runningPids(d, ['a', 'b']);
    process.kill(pids.get('a')!, 'SIGKILL');
    const after = await eventually('a restarted', async () => {
      const p = (await processes(d)).get('a');
      return p?.state === 'Running' && p.pid !== pids.get('a') && p;
    });
    expect(after.restarts).toBe(1);
    expect((await processes(d)).get('b')?.pid).toBe(pids.get('b'));
  });

  it('applies an edited file, restarting only the process whose spec changed', async () => {
    const file = writeConfig(dir(), TWO_SLEEPERS);
    const d = await start(file);
    const before = await runningPids(d, ['a', 'b']);
    // An editor's save: write a new file and rename it over the old one.
    writeFileSync(`${file}.tmp`, TWO_SLEEPERS.replace('"1001"', '"1002"') + '  - id: c\n    command: sleep\n    args: ["1003"]\n');
    renameSync(`${file}.tmp`, file);
    const after = await eventually('b replaced and c added', async () => {
      const pids = await pidsNow(d, ['a', 'b', 'c']);
      return pids?.get('b') !== before.get('b') && pids;
    });
    expect(after.get('a')).toBe(before.get('a'));
    expect(isAlive(before.get('b')!)).toBe(false);
    expect(await d.waitLog((r) => r.msg === 'config applied')).toMatchObject({ created: ['c'], updated: ['b'], unchanged: ['a'], removed: [] });

    // Removing an entry stops its process.
    writeFileSync(file, TWO_SLEEPERS);
    await eventually('c gone', async () => !(await processes(d)).has('c'));
    expect(isAlive(after.get('c')!)).toBe(false);
  });

  it('a deploy and an API restart leave procmgr_process_restarts alone; a crash moves it', async () => {
    const file = writeConfig(dir(), TWO_SLEEPERS);
    const d = await start(file);
    const before = await runningPids(d, ['a', 'b']);
    const metric = async (name: string, id: string): Promise<number | undefined> => {
      const text = await (await fetch(d.url('/metrics'))).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}{process="${id}"} `));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const counters = async (id: string) => {
      const p = (await processes(d)).get(id);
      return { restarts: p?.restarts, requestedRestarts: p?.requestedRestarts, metric: await metric('procmgr_process_restarts', id), requestedMetric: await metric('procmgr_process_requested_restarts', id) };
    };

    writeFileSync(`${file}.tmp`, TWO_SLEEPERS.replace('"1001"', '"1002"'));
    renameSync(`${file}.tmp`, file);
    expect((await d.json('/v1/processes/a/restart', { method: 'POST' })).status).toBe(202);
    const replaced = await eventually('a and b replaced', async () => {
      const pids = await pidsNow(d, ['a', 'b']);
      return pids?.get('a') !== before.get('a') && pids?.get('b') !== before.get('b') && pids;
    });
    for (const id of ['a', 'b']) expect(await counters(id)).toEqual({ restarts: 0, requestedRestarts: 1, metric: 0, requestedMetric: 1 });

    process.kill(replaced.get('a')!, 'SIGKILL');
    await eventually('a back', async () => {
      const pid = (await pidsNow(d, ['a']))?.get('a');
      return pid !== undefined && pid !== replaced.get('a');
    });
    expect(await counters('a')).toEqual({ restarts: 1, requestedRestarts: 1, metric: 1, requestedMetric: 1 });
  });

  it('rejects a broken file with a logged error and keeps the running set; SIGHUP reloads', async () => {
    const file = writeConfig(dir(), TWO_SLEEPERS.replace('  reload: { debounce: 50ms }', '  reload: { watch: false }'));
    const d = await start(file);
    const before = await runningPids(d, ['a', 'b']);
    writeFileSync(file, 'processes:\n  - id: a\n    command: sleep\n    probes: { liveness: { http: { port: eighty } } }\n  - id: a\n    command: sleep\n');
    d.signal('SIGHUP');
    const rejected = await d.waitLog((r) => r.msg?.startsWith('config rejected') === true);
    const problems = (rejected.problems as { path: string; message: string }[]).map((p) => `${p.path}: ${p.message}`);
    expect(problems.some((p) => p.startsWith('processes[0].probes.liveness.http.port:') && p.includes('"eighty"'))).toBe(true);
    expect(problems.some((p) => p.startsWith('processes[1].id:') && p.includes('duplicate'))).toBe(true);
    expect(await runningPids(d, ['a', 'b'])).toEqual(before);
    const health = await d.json<{ ok: boolean; lastReload?: { ok: boolean } }>('/healthz');
    expect(health.body.lastReload?.ok).toBe(false);

    writeFileSync(file, TWO_SLEEPERS.replace('"1000"', '"1010"'));
    d.signal('SIGHUP');
    await eventually('a replaced', async () => (await processes(d)).get('a')?.pid !== before.get('a'));
    expect((await processes(d)).get('b')?.pid).toBe(before.get('b'));
  });

  it('SIGTERM stops every process within its grace and exits 0, leaving nothing behind', async () => {
    const d = await start(writeConfig(dir(), TWO_SLEEPERS + `  - id: forker\n    command: sh\n    args: ["${fixture('forker.sh')}"]\n    killMode: tree\n`));
    const pids = await runningPids(d, ['a', 'b', 'forker']);
    expect(await d.stop()).toBe(0);
    for (const pid of pids.values()) expect(isAlive(pid)).toBe(false);
    expect(d.logs.some((r) => r.msg === 'all processes stopped')).toBe(true);
  });

  it('a second SIGTERM kills what is still in its grace and exits 3', async () => {
    const config = `processes:\n  - id: stubborn\n    command: ${NODE}\n    args: ["${fixture('ignore-term.mjs')}"]\n    stopGracePeriod: 1m\n`;
    const d = await start(writeConfig(dir(), config));
    const [pid] = (await runningPids(d, ['stubborn'])).values();
    await d.waitLog((r) => r.msg === 'ready' && r.process === 'stubborn');
    d.signal('SIGTERM');
    await d.waitLog((r) => r.msg?.startsWith('stopping') === true);
    d.signal('SIGTERM');
    expect(await d.exited).toBe(3);
    expect(isAlive(pid!)).toBe(false);
  });

  it('starts a process after its dependency is ready and its job has completed', async () => {
    const config = `
processes:
  - id: app
    dependsOn: [db, { id: migrate, condition: completed }]
    command: sleep
    args: ["1000"]
  - id: migrate
    dependsOn: [db]
    command: sh
    args: ["-c", "sleep 0.3; echo migrated"]
    restart: { policy: on-failure }
  - id: db
    command: sh
    args: ["-c", "sleep 0.3; touch ready; exec sleep 1000"]
    cwd: ${JSON.stringify(dir())}
    probes:
      readiness: { exec: { command: test, args: [-f, ready] }, interval: 100ms }
`;
    const d = await start(writeConfig(dir(), config));
    await runningPids(d, ['db', 'app']);
    // The API can show app running before its log line has come through the pipe.
    await d.waitLog((r) => r.msg === 'started' && r.process === 'app');
    const order = d.logs.filter((r) => (r.msg === 'started' || r.msg === 'exited') && r.process !== 'db').map((r) => `${String(r.msg)} ${String(r.process)}`);
    expect(order).toEqual(['started migrate', 'exited migrate', 'started app']);
    const waiting = d.logs.find((r) => r.msg === 'waiting for dependencies' && r.process === 'app');
    expect(waiting?.waitingFor).toEqual(['db', 'migrate']);
    const { body } = await d.json<{ ready: boolean }>('/readyz');
    expect(body.ready).toBe(true);
  });

  it('/readyz follows the kubelet: a crash-looping process without a readiness probe holds it at 503; a succeeded job does not, a failed one does', async () => {
    const config = `processManager:
  reload: { watch: false }
processes:
  - id: web
    command: sleep
    args: ["1000"]
  - id: done
    command: "true"
    restart: { policy: never }
  - id: crasher
    command: sh
    args: ["-c", "sleep 0.2; exit 3"]
    restart: { delay: 100ms }
`;
    const file = writeConfig(dir(), config);
    const d = await start(file);
    await eventually('crasher restarted', async () => ((await processes(d)).get('crasher')?.restarts ?? 0) >= 1);
    const loop = await eventually('503 naming only crasher', async () => {
      const r = await d.json<{ ready: boolean; notReady: string[] }>('/readyz');
      return r.status === 503 && r.body.notReady.join() === 'crasher' && r;
    });
    expect(loop.body.ready).toBe(false);
    expect((await processes(d)).get('done')).toMatchObject({ phase: 'Finished', state: 'Stopped', lastExit: { code: 0 } });
    // Fixed by hand: the crash loop gone, the finished job does not keep it unready.
    writeFileSync(file, config.replace('sleep 0.2; exit 3', 'exec sleep 1000').replace('"true"', '"false"'));
    d.signal('SIGHUP');
    const failed = await eventually('only the failed job holds it back', async () => {
      const r = await d.json<{ notReady: string[] }>('/readyz');
      return r.body.notReady.join() === 'done' && r;
    });
    expect(failed.status).toBe(503);
    expect((await processes(d)).get('done')).toMatchObject({ phase: 'Finished', state: 'Failed', lastExit: { code: 1 } });
  });

  it('a finished job runs again on start, and a log follow of it ends when it finishes', async () => {
    const config = 'processes:\n  - id: job\n    command: sh\n    args: ["-c", "sleep 0.5; echo done"]\n    restart: { policy: never }\n';
    const d = await start(writeConfig(dir(), config));
    const res = await fetch(d.url('/v1/processes/job/logs?follow=1'), { headers: { Authorization: `Bearer ${d.token ?? ''}` } });
    expect(res.status).toBe(200);
    // The stream ends by itself once the job has finished (a `logs -f` would return).
    const text = await res.text();
    expect(text).toContain('"line":"done"');
    await eventually('job finished', async () => (await processes(d)).get('job')?.phase === 'Finished');
    const started = await d.json('/v1/processes/job/start', { method: 'POST' });
    expect(started.status).toBe(202);
    await eventually('job ran again', () => Promise.resolve(d.logs.filter((r) => r.msg === 'done' && r.process === 'job').length === 2));
  });

  it('serves /readyz 503 and status while stopping; SIGINT stops like SIGTERM', async () => {
    const config = `processes:\n  - id: slow\n    command: ${NODE}\n    args: ["${fixture('ignore-term.mjs')}"]\n    stopGracePeriod: 2s\n`;
    const d = await start(writeConfig(dir(), config));
    await runningPids(d, ['slow']);
    await d.waitLog((r) => r.msg === 'ready' && r.process === 'slow');
    expect((await d.json('/readyz')).status).toBe(200);
    d.signal('SIGINT');
    await d.waitLog((r) => r.msg?.startsWith('stopping') === true);
    const during = await d.json<{ ready: boolean; reason?: string }>('/readyz');
    expect(during.status).toBe(503);
    expect(during.body.reason).toMatch(/shuttingDown/);
    expect((await processes(d)).get('slow')?.state).toBe('Stopping');
    expect(await d.exited).toBe(0);
  });

  it('a YAML document that cannot be resolved is rejected on SIGHUP; the daemon and its processes carry on', async () => {
    const file = writeConfig(dir(), TWO_SLEEPERS.replace('  reload: { debounce: 50ms }', '  reload: { watch: false }'));
    const d = await start(file);
    const before = await runningPids(d, ['a', 'b']);
    writeFileSync(file, 'processes:\n  - *nope\n');
    d.signal('SIGHUP');
    const rejected = await d.waitLog((r) => r.msg?.startsWith('config rejected') === true);
    expect(JSON.stringify(rejected.problems)).toContain('nope');
    expect(await runningPids(d, ['a', 'b'])).toEqual(before);
    expect((await d.json('/healthz')).status).toBe(200);
  });

  it('exits 1 without starting anything when the API address is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    try {
      const port = (blocker.address() as AddressInfo).port;
      const res = await procmgr(['run', '-c', writeConfig(dir(), TWO_SLEEPERS), '--listen', `127.0.0.1:${port}`]);
      expect(res.code).toBe(1);
      expect(res.stdout).toContain('procmgr could not start');
      expect(res.stdout).not.toContain('"msg":"started"');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('a bad --listen is a usage error (exit 2)', async () => {
    const res = await procmgr(['run', '-c', writeConfig(dir(), TWO_SLEEPERS), '--listen', 'bogus']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('bogus');
  });

  it('PUT /v1/processes replaces the set; a bad body is a 422 that changes nothing', async () => {
    const d = await start(writeConfig(dir(), TWO_SLEEPERS));
    const before = await runningPids(d, ['a', 'b']);
    const bad = await d.json<{ code: string; details: { problems: { path: string }[] } }>('/v1/processes', {
      method: 'PUT', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ processes: [{ id: 'a', command: 'sleep', restart: { policy: 'sometimes' } }, { id: 'z' }] }),
    });
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('INVALID_CONFIG');
    expect(bad.body.details.problems.map((p) => p.path)).toEqual(expect.arrayContaining(['processes[0].restart.policy', 'processes[1].command']));
    expect(await runningPids(d, ['a', 'b'])).toEqual(before);

    const good = await d.json<{ created: string[]; removed: string[]; unchanged: string[] }>('/v1/processes', {
      method: 'PUT', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ processes: [{ id: 'a', command: 'sleep', args: ['1000'], restart: { delay: '50ms' } }, { id: 'n', command: 'sleep', args: ['5'] }] }),
    });
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ created: ['n'], removed: ['b'], unchanged: ['a'] });
    await eventually('b stopped', () => !isAlive(before.get('b')!));
    expect((await runningPids(d, ['a', 'n'])).get('a')).toBe(before.get('a'));
  });

  it('refuses to start on an invalid file: exit 2 and every problem on stderr', async () => {
    const file = writeConfig(dir(), 'processManager:\n  logLevel: loud\nprocesses:\n  - id: x\n    dependsOn: [nope]\n    command: sleep\n    colour: red\n');
    const res = await procmgr(['run', '-c', file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/processManager\.logLevel: .*"loud"/);
    expect(res.stderr).toMatch(/processes\[0\]\.dependsOn\[0\]: .*"nope"/);
    expect(res.stderr).toMatch(/processes\[0\]\.colour: unknown key/);
  });
});
