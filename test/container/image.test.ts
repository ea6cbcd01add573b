import { execFile } from 'node:child_process';
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProcessInfo } from '../../src/api/index.js';
import { eventually } from '../helpers/daemon.js';
import { tempDir } from '../helpers/supervised.js';

const run = promisify(execFile);
const IMAGE = 'procmgr:dev';
const ids: string[] = [];
const dirs: string[] = [];

afterAll(async () => {
  // Ryuk is off (no registry to pull it from): remove what we started ourselves.
  if (ids.length > 0) await run('docker', ['rm', '-f', ...ids]).catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(container: GenericContainer): Promise<StartedTestContainer> {
  const started = await container.withExposedPorts(7070).withWaitStrategy(Wait.forHttp('/readyz', 7070).forStatusCode(200)).withStartupTimeout(60_000).start();
  ids.push(started.getId());
  return started;
}

const url = (c: StartedTestContainer, path: string): string => `http://127.0.0.1:${c.getMappedPort(7070)}${path}`;

/**
 * The token the daemon generated inside the container (uid 10001: no XDG runtime dir there, so
 * the temp dir), read the way its own CLI would find it.
 */
async function tokenOf(c: StartedTestContainer): Promise<string> {
  const read = await c.exec(['cat', '/tmp/procmgr-10001/api-7070.token']);
  expect(read.exitCode, read.output).toBe(0);
  return read.output.trim();
}

async function processes(c: StartedTestContainer): Promise<Map<string, ProcessInfo>> {
  const res = await fetch(url(c, '/v1/processes'), { headers: { Authorization: `Bearer ${await tokenOf(c)}` } });
  const body = (await res.json()) as { processes: ProcessInfo[] };
  return new Map(body.processes.map((p) => [p.id, p]));
}

async function exitCode(id: string): Promise<number> {
  return Number((await run('docker', ['inspect', '-f', '{{.State.ExitCode}}', id])).stdout.trim());
}

describe('the procmgr:dev image in real Docker', () => {
  it('runs the bundled example, restarts a killed process, and stops every process within its grace on stop (exit 0)', async () => {
    const c = await start(new GenericContainer(IMAGE));
    expect((await fetch(url(c, '/readyz'))).status).toBe(200);
    // Process data needs the token from outside; inside, the CLI finds it with no flag.
    expect((await fetch(url(c, '/v1/processes'))).status).toBe(401);
    const status = await c.exec(['node', '/app/bin/procmgr.mjs', 'status']);
    expect([status.exitCode, status.output]).toEqual([0, expect.stringMatching(/web\s+Running/)]);
    // PID 1 is the init that reaps orphans and forwards signals.
    expect((await c.exec(['cat', '/proc/1/comm'])).output.trim()).toBe('tini');

    const worker = await eventually('worker running', async () => (await processes(c)).get('worker')?.pid);
    expect((await c.exec(['kill', '-9', String(worker)])).exitCode).toBe(0);
    const again = await eventually('worker restarted', async () => {
      const p = (await processes(c)).get('worker');
      return p?.state === 'Running' && p.pid !== worker && p;
    });
    expect(again.restarts).toBe(1);

    await c.stop({ timeout: 20_000, remove: false });
    expect(await exitCode(c.getId())).toBe(0);
    const logs = (await run('docker', ['logs', c.getId()])).stdout;
    for (const id of ['web', 'worker']) {
      // Its stop signal either ended it (a process that just restarted may not handle it yet) or it exited 0: never SIGKILL.
      expect(logs).toMatch(new RegExp(`"process":"${id}","pid":\\d+,"code":(0|null),"signal":(null|"SIGTERM"),"reason":"terminating"`));
    }
    expect(logs).not.toContain('"signal":"SIGKILL","reason":"terminating"'); // (the kill -9 above is not a stop)
  });

  it('leaves no zombie when a managed program double-forks and exits, and hot-reloads a mounted config', async () => {
    const dir = tempDir('procmgr-container-');
    dirs.push(dir);
    chmodSync(dir, 0o755); // the container runs as uid 10001
    const config = (extra: string): string =>
      `processes:\n  - id: sleeper\n    command: sleep\n    args: ["1000"]\n  - id: orphaner\n    command: sh\n    args: ["-c", "setsid sleep 1 & exit 0"]\n    restart: { policy: never }\n${extra}`;
    writeFileSync(join(dir, 'procmgr.yaml'), config(''), { mode: 0o644 });
    const c = await start(
      new GenericContainer(IMAGE)
        .withBindMounts([{ source: dir, target: '/config', mode: 'ro' }])
        .withCommand(['run', '-c', '/config/procmgr.yaml', '--listen', '0.0.0.0:7070']),
    );
    await eventually('orphaner done', async () => (await processes(c)).get('orphaner')?.phase === 'Finished');
    // Its orphan (re-parented to PID 1) sleeps a second and exits: PID 1 must reap it.
    const table = async (): Promise<string[]> =>
      (await c.exec(['sh', '-c', 'for f in /proc/[0-9]*/status; do echo "$(grep ^Name: $f | cut -f2) $(grep ^State: $f | cut -f2 | cut -c1)"; done'])).output.trim().split('\n');
    await eventually('only the sleeper left sleeping', async () => (await table()).filter((l) => l.startsWith('sleep ')).length === 1, 15_000);
    expect((await table()).filter((l) => l.endsWith(' Z'))).toEqual([]);

    // An editor's save (rename over the file) in the mounted directory is picked up.
    writeFileSync(join(dir, 'procmgr.yaml.tmp'), config('  - id: added\n    command: sleep\n    args: ["1001"]\n'), { mode: 0o644 });
    renameSync(join(dir, 'procmgr.yaml.tmp'), join(dir, 'procmgr.yaml'));
    await eventually('added running', async () => (await processes(c)).get('added')?.state === 'Running', 20_000);
    await c.stop({ timeout: 20_000, remove: false });
    expect(await exitCode(c.getId())).toBe(0);
  });
});
