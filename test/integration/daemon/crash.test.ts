import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessInfo } from '../../../src/api/index.js';
import { isAlive } from '../../../src/supervisor/proc.js';
import { BIN, DaemonProcess, eventually, writeConfig } from '../../helpers/daemon.js';
import { NODE, tempDir } from '../../helpers/supervised.js';

const dirs: string[] = [];
const daemons: DaemonProcess[] = [];
const others: ChildProcess[] = [];
const pids: number[] = [];
afterEach(async () => {
  for (const c of others.splice(0)) c.kill('SIGKILL');
  for (const d of daemons.splice(0)) await d.stop();
  // A daemon killed with -9 leaves its processes to the next one; if that one never came, they go here.
  for (const pid of pids.splice(0)) if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(file: string): Promise<DaemonProcess> {
  const d = await DaemonProcess.start(file);
  daemons.push(d);
  return d;
}

async function kill9(d: DaemonProcess): Promise<void> {
  daemons.splice(daemons.indexOf(d), 1);
  d.signal('SIGKILL');
  await d.exited;
}

const info = async (d: DaemonProcess, id: string): Promise<ProcessInfo> => (await d.json<ProcessInfo>(`/v1/processes/${id}`)).body;
async function lines(d: DaemonProcess, id: string): Promise<string[]> {
  const res = await fetch(d.url(`/v1/processes/${id}/logs`), { headers: { Authorization: `Bearer ${d.token ?? ''}` } });
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { line: string }).line);
}

/** The numbers of `tick N` lines, which must run 1, 2, 3… with none missing, doubled or out of order. */
function expectEveryTick(found: readonly string[]): number {
  const numbers = found.filter((l) => l.startsWith('tick ')).map((l) => Number(l.slice(5)));
  expect(numbers).toEqual(numbers.map((_, i) => i + 1));
  return numbers.length;
}

describe('output survives a crash of procmgr (state dir)', () => {
  it('kill -9 under a process writing a line every 10 ms: it keeps running, every line is there in order, logs -f follows, nothing restarts', async () => {
    const dir = tempDir('procmgr-crash-');
    dirs.push(dir);
    const config = writeConfig(
      dir,
      `
processManager:
  stateDir: state
processes:
  - id: ticker
    shell: true
    command: 'i=0; while :; do i=$((i+1)); echo "tick $i"; echo "err $i" >&2; sleep 0.01; done'
    logging: { file: ticker.log }
`,
    );
    const first = await start(config);
    const before = await eventually('ticker running', async () => {
      const p = await info(first, 'ticker');
      return p.state === 'Running' && p.pid !== undefined && p;
    });
    pids.push(before.pid!);
    await eventually('some output', async () => (await lines(first, 'ticker')).length >= 20);
    await kill9(first);

    // procmgr is gone; its process writes on.
    await new Promise((r) => setTimeout(r, 500));
    expect(isAlive(before.pid!)).toBe(true);

    const second = await start(config);
    await second.waitLog((r) => r.msg === 'reattached to the process a previous supervisor started');
    const after = await info(second, 'ticker');
    expect([after.pid, after.restarts]).toEqual([before.pid, before.restarts]);
    // Lines from before the crash, from while procmgr was down, and from since: all of them, in order.
    const seen = await eventually('output from after the restart', async () => {
      const found = await lines(second, 'ticker');
      return found.filter((l) => l.startsWith('tick ')).length > 150 && found;
    });
    const count = expectEveryTick(seen);
    expect(seen.filter((l) => l.startsWith('err ')).length).toBeGreaterThan(100);

    // logs -f follows what comes next.
    const follow = spawn(NODE, [BIN, 'logs', '-f', '-n', '0', 'ticker', '--api', second.address], { stdio: ['ignore', 'pipe', 'pipe'] });
    others.push(follow);
    const followed: string[] = [];
    createInterface({ input: follow.stdout }).on('line', (l) => followed.push(l));
    await eventually('followed lines', async () => followed.filter((l) => l.startsWith('tick ')).length >= 20);
    const firstFollowed = Number(followed.find((l) => l.startsWith('tick '))!.slice(5));
    expect(firstFollowed).toBeGreaterThan(count);

    await second.stop();
    expect(isAlive(before.pid!)).toBe(false);
    // The log file has every line too; the last second before the crash may be written twice.
    const file = readFileSync(join(dir, 'ticker.log'), 'utf8').split('\n').filter((l) => l.startsWith('tick ')).map((l) => Number(l.slice(5)));
    expect(new Set(file).size).toBe(Math.max(...file));
    expect(file.every((n, i) => i === 0 || n === file[i - 1]! + 1 || n <= file[i - 1]!)).toBe(true);
    expect(second.logs.filter((r) => r.msg === 'started')).toEqual([]);
    // The process is gone for good, and so are its spools.
    expect(readdirSync(join(dir, 'state'))).toEqual([]);
  });

  it('a process that died while procmgr was down: what it wrote meanwhile is in its logs, and it is started again', async () => {
    const dir = tempDir('procmgr-crash-');
    dirs.push(dir);
    const marker = join(dir, 'go');
    const config = writeConfig(
      dir,
      `
processManager:
  stateDir: state
processes:
  - id: fragile
    shell: true
    command: 'echo started; while [ ! -e "${marker}" ]; do sleep 0.02; done; echo "last words" >&2; exit 3'
`,
    );
    const first = await start(config);
    const before = await eventually('fragile running', async () => {
      const p = await info(first, 'fragile');
      return p.state === 'Running' && p.pid !== undefined && p;
    });
    pids.push(before.pid!);
    await kill9(first);
    writeFileSync(marker, '');
    await eventually('fragile gone', async () => !isAlive(before.pid!));

    const second = await start(config);
    // The marker is still there, so each new run exits at once: it is started, it fails, and so on.
    const seen = await eventually('a new run and the old output', async () => {
      const found = await lines(second, 'fragile');
      return second.logs.some((r) => r.msg === 'started' && r.process === 'fragile') && found.includes('last words') && found;
    });
    expect(seen.slice(0, 2)).toEqual(['started', 'last words']);
  });
});
