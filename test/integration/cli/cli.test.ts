import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, DaemonProcess, eventually, procmgr, writeConfig } from '../../helpers/daemon.js';
import { NODE, tempDir } from '../../helpers/supervised.js';

const dir = tempDir('procmgr-cli-');
let d: DaemonProcess;

const CONFIG = `
processes:
  - id: sleeper
    command: sleep
    args: ["1000"]
    restart: { delay: 50ms }
  - id: ticker
    command: sh
    args: ["-c", "i=0; while true; do i=$((i+1)); echo tick $i; echo oops $i >&2; sleep 0.1; done"]
`;

beforeAll(async () => {
  d = await DaemonProcess.start(writeConfig(dir, CONFIG));
});
afterAll(async () => {
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

const api = (): string[] => ['--api', d.address];

async function state(id: string): Promise<{ state: string; pid?: number }> {
  const res = await procmgr(['status', id, '--json', ...api()]);
  return (JSON.parse(res.stdout) as { state: string; pid?: number }[])[0]!;
}

describe('the procmgr command', () => {
  it('prints help with every command, and exits 2 on an unknown one', async () => {
    const help = await procmgr(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['run', 'validate', 'status', 'restart', 'stop', 'start', 'logs']) expect(help.stdout).toContain(cmd);
    const bad = await procmgr(['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown command 'frobnicate'");
  });

  it('on a Node older than 22 it says so in one line and exits 1 (not a SyntaxError from deep inside)', async () => {
    // The pinned Node, told it is Node 20 before procmgr's entry point runs.
    const old = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.20.2"});Object.defineProperty(process,"version",{value:"v20.20.2"})';
    const child = spawn(NODE, ['--import', old, BIN, 'status'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^procmgr: needs Node >= 22, but this is Node v20\.20\.2 \(.+\)$/);
  });

  it('validate: 0 and a summary for a good file; 2 and every problem for a bad one', async () => {
    const good = await procmgr(['validate', writeConfig(dir, CONFIG, 'good.yaml')]);
    expect(good).toMatchObject({ code: 0 });
    expect(good.stdout.trim()).toMatch(/good\.yaml: valid \(2 processes\)$/);
    const bad = await procmgr(['validate', writeConfig(dir, 'processes:\n  - id: a\n    command: x\n    stopGracePeriod: soon\n  - id: a\n    command: y\n', 'bad.yaml')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^invalid config: 2 problems$/m);
    expect(bad.stderr).toMatch(/processes\[0\]\.stopGracePeriod: .*"soon"/);
    expect(bad.stderr).toMatch(/processes\[1\]\.id: duplicate id "a"/);
    const missing = await procmgr(['validate', `${dir}/nope.yaml`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
  });

  it('status prints an aligned table: id, state, pid, uptime, restarts, ready', async () => {
    await eventually('both running', async () => (await state('sleeper')).state === 'Running' && (await state('ticker')).state === 'Running');
    const res = await procmgr(['status', ...api()]);
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +STATE +PID +UPTIME +RESTARTS +READY$/);
    expect(lines.slice(1).map((l) => l.split(/ +/)[0])).toEqual(['sleeper', 'ticker']);
    for (const line of lines.slice(1)) expect(line).toMatch(/^\w+ +Running +\d+ +\d+(ms|s|m\d\ds) +0 +yes$/);
    // Columns line up: every row's STATE starts where the header's does.
    const col = lines[0]!.indexOf('STATE');
    for (const line of lines.slice(1)) expect(line.slice(col, col + 7)).toBe('Running');
  });

  it('restart, stop and start act on the daemon', async () => {
    const before = await state('sleeper');
    expect((await procmgr(['restart', 'sleeper', ...api()])).stdout).toContain('sleeper: restart requested');
    await eventually('a new pid', async () => {
      const s = await state('sleeper');
      return s.state === 'Running' && s.pid !== before.pid;
    });
    expect((await procmgr(['stop', 'sleeper', ...api()])).code).toBe(0);
    await eventually('Disabled', async () => (await state('sleeper')).state === 'Disabled');
    expect((await procmgr(['start', 'sleeper', ...api()])).code).toBe(0);
    await eventually('Running again', async () => (await state('sleeper')).state === 'Running');
  });

  it('logs prints recent lines (stderr marked); -f follows until interrupted', async () => {
    const res = await procmgr(['logs', 'ticker', '-n', '4', ...api()]);
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.some((l) => /^tick \d+$/.test(l))).toBe(true);
    expect(lines.some((l) => /^\[err\] oops \d+$/.test(l))).toBe(true);

    const follow = spawn(NODE, [BIN, 'logs', 'ticker', '-f', '-n', '0', ...api()], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    follow.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => follow.once('exit', (code) => r(code)));
    await eventually('three new lines', () => Promise.resolve((out.match(/^tick \d+$/gm) ?? []).length >= 3));
    follow.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('an unknown id or an unreachable daemon: exit 1 and one line on stderr', async () => {
    const unknown = await procmgr(['restart', 'ghost', ...api()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('procmgr: no process "ghost"');
    const down = await procmgr(['status', '--api', '127.0.0.1:1']);
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/^procmgr: cannot reach procmgr at 127\.0\.0\.1:1: ECONNREFUSED/);
  });
});
