import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessInfo } from '../../../src/api/index.js';
import { tokenDirs, tokenFileName } from '../../../src/api/token-file.js';
import { BIN, DaemonProcess, eventually, procmgr, writeConfig } from '../../helpers/daemon.js';
import { NODE, fixture, tempDir } from '../../helpers/supervised.js';

// procmgr runs as root; another local account (nobody) must not be able to read or drive it,
// while root's own CLI works with no flag. Real users, real sockets, the real daemon.

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('the security tests switch users with runuser and must run as root in CI');

const dirs: string[] = [];
const daemons: DaemonProcess[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir('procmgr-security-');
  chmodSync(d, 0o755); // nobody may reach what is inside: only the socket's own mode stops it
  dirs.push(d);
  return d;
}

async function start(file: string, args: readonly string[] = []): Promise<DaemonProcess> {
  const d = await DaemonProcess.start(file, args);
  daemons.push(d);
  return d;
}

const SECRET_ENV = 'hunter2-do-not-show';
const CONFIG = `
processes:
  - id: web
    command: sleep
    args: ["1000"]
    env: { DB_PASSWORD: "${SECRET_ENV}" }
`;

interface Answer {
  readonly status?: number;
  readonly text?: string;
  readonly error?: string;
}

/** One request sent by the user `nobody` (a separate process under runuser). */
async function asNobody(request: Record<string, unknown>): Promise<Answer> {
  const { stdout } = await run('runuser', ['-u', 'nobody', '--', NODE, fixture('http-request.ts'), JSON.stringify(request)], { timeout: 20_000 });
  return JSON.parse(stdout) as Answer;
}

function tcp(d: DaemonProcess): { host: string; port: number } {
  const i = d.address.lastIndexOf(':');
  return { host: d.address.slice(0, i), port: Number(d.address.slice(i + 1)) };
}

/** A request with headers fetch would not send as given (Host), with the daemon's token. */
function raw(d: DaemonProcess, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: { code?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...tcp(d), method, path, agent: false, headers: { Authorization: `Bearer ${d.token ?? ''}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { code?: string } }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function web(d: DaemonProcess): Promise<ProcessInfo> {
  return eventually('web running', async () => {
    const { body } = await d.json<ProcessInfo>('/v1/processes/web');
    return body.state === 'Running' && body;
  });
}

describe.skipIf(!isRoot)('another local user against a daemon run by root', () => {
  it('gets 401 for every read of process data and every change over TCP loopback, 200 for /healthz; root\'s CLI works with no flag', async () => {
    const d = await start(writeConfig(dir(), CONFIG));
    const before = await web(d);
    // The generated token: in root's runtime dir, 0600, and only the path is logged.
    const file = join(tokenDirs()[0] ?? '', tokenFileName(tcp(d).port));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(d.logs.find((r) => r.msg?.startsWith('API token generated'))).toMatchObject({ tokenFile: file });
    expect(d.logs.find((r) => r.msg === 'API listening')).toMatchObject({ auth: 'token', open: ['/healthz', '/readyz', '/metrics'] });

    const target = tcp(d);
    const proof = join(dirs[0] ?? '', 'proof.txt');
    const put = JSON.stringify({ processes: [{ id: 'proof', command: 'sh', args: ['-c', `id > ${proof}`] }] });
    const attempts: Record<string, unknown>[] = [
      { method: 'PUT', path: '/v1/processes', headers: { 'Content-Type': 'application/json' }, body: put },
      { method: 'POST', path: '/v1/processes/web/stop' },
      { method: 'POST', path: '/v1/processes/web/restart', headers: { 'Content-Type': 'application/json' } },
      { method: 'GET', path: '/v1/processes' },
      { method: 'GET', path: '/v1/processes/web' },
      { method: 'GET', path: '/v1/processes/web/logs' },
      { method: 'GET', path: '/v1/processes/web/logs?follow=1' },
      // Guessing: a token from somewhere else, and one read from a file nobody cannot read.
      { method: 'POST', path: '/v1/processes/web/stop', headers: { Authorization: 'Bearer guessed' } },
    ];
    for (const a of attempts) {
      const answer = await asNobody({ ...target, ...a });
      expect([a.method, a.path, answer.status]).toEqual([a.method, a.path, 401]);
      expect(JSON.parse(answer.text ?? '{}')).toMatchObject({ code: 'UNAUTHORIZED' });
    }
    expect(await asNobody({ ...target, path: `/${'..'}/run/procmgr/${tokenFileName(target.port)}` })).toMatchObject({ status: 404 });
    expect((await run('runuser', ['-u', 'nobody', '--', 'cat', file]).catch((e: { stderr: string }) => e)).stderr).toMatch(/Permission denied/);
    expect(await asNobody({ ...target, path: '/healthz' })).toMatchObject({ status: 200 });
    expect(await asNobody({ ...target, path: '/readyz' })).toMatchObject({ status: 200 });

    // nobody's own CLI finds no token of nobody's and says so.
    const theirs = await run('runuser', ['-u', 'nobody', '--', NODE, BIN, 'status', '--api', d.address]).catch((e: { code: number; stderr: string }) => e);
    expect(theirs).toMatchObject({ code: 1 });
    expect((theirs as { stderr: string }).stderr).toMatch(/Authorization: Bearer <token>.*token sent: none/);

    expect(existsSync(proof)).toBe(false);
    const after = await web(d);
    expect([after.pid, after.restarts]).toEqual([before.pid, before.restarts]);

    // Root's CLI: no flag, no env.
    const status = await procmgr(['status', '--api', d.address]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/web\s+Running/);
    expect((await procmgr(['restart', 'web', '--api', d.address])).stdout).toContain('web: restart requested');
    await eventually('web restarted', async () => (await d.json<ProcessInfo>('/v1/processes/web')).body.requestedRestarts === before.requestedRestarts + 1);
    expect((await procmgr(['logs', 'web', '--api', d.address])).code).toBe(0);

    // Env values are not shown anywhere: status, the API, /healthz, procmgr's own log.
    const json = await procmgr(['status', '--json', '--api', d.address]);
    const health = await asNobody({ ...target, path: '/healthz' });
    for (const text of [json.stdout, JSON.stringify((await d.json('/v1/processes')).body), health.text ?? '', JSON.stringify(d.logs)]) expect(text).not.toContain(SECRET_ENV);

    // The token never reaches the log or /healthz; the file goes with the daemon.
    const token = readFileSync(file, 'utf8').trim();
    expect(JSON.stringify(d.logs) + (health.text ?? '') + json.stdout).not.toContain(token);
    await d.stop();
    expect(existsSync(file)).toBe(false);
  });

  it('a unix socket (0600) refuses the other user; its owner needs no token', async () => {
    const socket = join(dir(), 'api.sock');
    const d = await start(writeConfig(dirs[0] ?? '', CONFIG), ['--listen', `unix:${socket}`]);
    expect(d.logs.find((r) => r.msg === 'API listening')).toMatchObject({ auth: 'unix-socket', socketMode: '0600' });
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(await asNobody({ socketPath: socket, method: 'POST', path: '/v1/processes/web/stop' })).toEqual({ error: 'EACCES' });
    expect(await asNobody({ socketPath: socket, path: '/v1/processes' })).toEqual({ error: 'EACCES' });
    const status = await procmgr(['status', '--api', `unix:${socket}`]);
    expect([status.code, status.stdout]).toEqual([0, expect.stringMatching(/web\s+(Running|Starting)/)]);
  });
});

describe('browser attacks and token rotation against the real daemon', () => {
  it('refuses a rebinding Host and a cross-origin request with a JSON error and a warning; a same-origin request with the token passes', async () => {
    const d = await start(writeConfig(dir(), CONFIG));
    const before = await web(d);
    const rebound = await raw(d, 'POST', '/v1/processes/web/stop', { Host: `attacker.example:${tcp(d).port}` });
    expect([rebound.status, rebound.body.code]).toEqual([403, 'HOST_NOT_ALLOWED']);
    const csrf = await d.json<{ code: string }>('/v1/processes/web/stop', { method: 'POST', headers: { Origin: 'http://evil.example' } });
    expect([csrf.status, csrf.body.code]).toEqual([403, 'ORIGIN_NOT_ALLOWED']);
    const put = await d.json<{ code: string }>('/v1/processes', {
      method: 'PUT',
      headers: { Origin: 'http://evil.example', 'Content-Type': 'application/json' },
      body: JSON.stringify({ processes: [] }),
    });
    expect([put.status, put.body.code]).toEqual([403, 'ORIGIN_NOT_ALLOWED']);
    // The answer can arrive before the daemon's stderr line does.
    const refused = () => d.logs.filter((r) => r.msg === 'API request refused').map((r) => r.code);
    await eventually('three refusal warnings', async () => refused().length >= 3);
    expect(refused()).toEqual(['HOST_NOT_ALLOWED', 'ORIGIN_NOT_ALLOWED', 'ORIGIN_NOT_ALLOWED']);
    expect((await web(d)).pid).toBe(before.pid);

    const same = await d.json('/v1/processes/web/restart', { method: 'POST', headers: { Origin: `http://${d.address}` } });
    expect(same.status).toBe(202);
    await eventually('web restarted', async () => (await d.json<ProcessInfo>('/v1/processes/web')).body.requestedRestarts === before.requestedRestarts + 1);
  });

  it('tokenFile + SIGHUP rotates the token without a restart: the old one gets 401, the new one 200, processes untouched', async () => {
    const where = dir();
    writeFileSync(join(where, 'token'), 'first-token-0123456789\n', { mode: 0o600 });
    const d = await start(writeConfig(where, `processManager:\n  api: { tokenFile: token }\n${CONFIG}`));
    d.token = 'first-token-0123456789';
    const before = await web(d);
    expect(d.logs.some((r) => r.msg?.startsWith('API token generated'))).toBe(false);
    const as = (token: string): Promise<{ status: number }> => d.json('/v1/processes', { headers: { Authorization: `Bearer ${token}` } });
    expect((await as('first-token-0123456789')).status).toBe(200);

    writeFileSync(join(where, 'token'), 'second-token-9876543210\n');
    d.signal('SIGHUP');
    await d.waitLog((r) => r.msg === 'API token replaced');
    expect((await as('first-token-0123456789')).status).toBe(401);
    expect((await as('second-token-9876543210')).status).toBe(200);
    d.token = 'second-token-9876543210';
    const after = await web(d);
    expect([after.pid, after.restarts]).toEqual([before.pid, before.restarts]);
    // Neither token was logged; the reload did not claim a restart is needed.
    const log = JSON.stringify(d.logs) + d.stderr.join('\n');
    expect(log).not.toContain('first-token');
    expect(log).not.toContain('second-token');
    expect(d.logs.some((r) => r.msg?.includes('restart procmgr for the rest'))).toBe(false);

    // An unreadable token file on reload is a rejected reload: the token in force stays.
    rmSync(join(where, 'token'));
    d.signal('SIGHUP');
    await d.waitLog((r) => r.msg === 'config rejected; the running processes keep their last good config');
    expect((await as('second-token-9876543210')).status).toBe(200);
  });
});
