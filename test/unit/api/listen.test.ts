import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiServer, formatAddress, isLocalOnly, parseListen } from '../../../src/api/index.js';
import { FakeBackend } from './fake-backend.js';
import { send, useServers } from './http.js';

const servers = useServers();
const raw: Server[] = [];
afterEach(async () => {
  await Promise.all(raw.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function listenRaw(opts: { path: string } | { host: string; port: number }): Promise<Server> {
  const s = createServer();
  raw.push(s);
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(opts, () => resolve(s));
  });
}

describe('parseListen / isLocalOnly', () => {
  it.each([
    ['127.0.0.1:7070', { kind: 'tcp', host: '127.0.0.1', port: 7070 }, true],
    ['[::1]:0', { kind: 'tcp', host: '::1', port: 0 }, true],
    ['localhost:80', { kind: 'tcp', host: 'localhost', port: 80 }, true],
    ['127.1.2.3:80', { kind: 'tcp', host: '127.1.2.3', port: 80 }, true],
    ['[::ffff:127.0.0.1]:80', { kind: 'tcp', host: '::ffff:127.0.0.1', port: 80 }, true],
    ['0.0.0.0:7070', { kind: 'tcp', host: '0.0.0.0', port: 7070 }, false],
    ['[::]:7070', { kind: 'tcp', host: '::', port: 7070 }, false],
    ['10.0.0.5:7070', { kind: 'tcp', host: '10.0.0.5', port: 7070 }, false],
    ['unix:/run/procmgr.sock', { kind: 'unix', path: '/run/procmgr.sock' }, true],
    ['/run/procmgr.sock', { kind: 'unix', path: '/run/procmgr.sock' }, true],
  ] as const)('%s', (text, parsed, local) => {
    expect(parseListen(text)).toEqual(parsed);
    expect(isLocalOnly(parseListen(text))).toBe(local);
  });

  it.each(['', '7070', '::1:7070', '[nothost]:1', 'host:70000', 'host:', ':80', 'unix:', 'host:12a'])('rejects %j', (text) => {
    expect(() => parseListen(text)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('formats IPv6 in brackets', () => {
    expect(formatAddress({ kind: 'tcp', host: '::1', port: 5 })).toBe('[::1]:5');
  });
});

describe('start / stop', () => {
  it('reports the real port for port 0, on IPv4 and IPv6', async () => {
    const v4 = await servers.start({ backend: new FakeBackend() });
    expect(v4.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(v4.address).not.toBe('127.0.0.1:0');
    const v6 = await servers.start({ backend: new FakeBackend(), listen: '[::1]:0' });
    expect(v6.address).toMatch(/^\[::1\]:\d+$/);
    expect((await send(v6.address, { path: '/healthz' })).status).toBe(200);
  });

  it('EADDRINUSE is a LISTEN_FAILED error naming the address', async () => {
    const taken = await listenRaw({ host: '127.0.0.1', port: 0 });
    const port = (taken.address() as { port: number }).port;
    const server = createApiServer({ backend: new FakeBackend(), listen: `127.0.0.1:${port}` });
    const err = await server.start().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LISTEN_FAILED', details: { address: `127.0.0.1:${port}` } });
    expect((err as Error).message).toContain('EADDRINUSE');
    await server.stop();
  });

  it('address before start is an ILLEGAL_STATE error', () => {
    const server = createApiServer({ backend: new FakeBackend() });
    expect(() => server.address).toThrow(expect.objectContaining({ code: 'ILLEGAL_STATE' }));
  });

  it('a unix socket: mode 0600, removed on stop; stop is idempotent', async () => {
    const path = join(servers.tempDir(), 'api.sock');
    const server = await servers.start({ backend: new FakeBackend(), listen: `unix:${path}` });
    expect(server.address).toBe(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await send(path, { path: '/healthz' })).status).toBe(200);
    await server.stop();
    await server.stop();
    expect(existsSync(path)).toBe(false);
  });

  it('removes a stale socket file nobody listens on', async () => {
    const path = join(servers.tempDir(), 'stale.sock');
    leaveDeadSocket(path);
    const server = await servers.start({ backend: new FakeBackend(), listen: `unix:${path}` });
    expect((await send(server.address, { path: '/healthz' })).status).toBe(200);
  });

  it('refuses a live socket and a path that is not a socket, leaving both in place', async () => {
    const dir = servers.tempDir();
    const live = join(dir, 'live.sock');
    await listenRaw({ path: live });
    const a = createApiServer({ backend: new FakeBackend(), listen: `unix:${live}` });
    await expect(a.start()).rejects.toMatchObject({ code: 'LISTEN_FAILED', details: { address: live } });
    expect(existsSync(live)).toBe(true);
    const file = join(dir, 'file.sock');
    writeFileSync(file, 'not a socket');
    const b = createApiServer({ backend: new FakeBackend(), listen: `unix:${file}` });
    await expect(b.start()).rejects.toMatchObject({ code: 'LISTEN_FAILED' });
    expect(existsSync(file)).toBe(true);
  });
});

// A closing net.Server unlinks its socket file; a SIGKILLed daemon leaves it behind, as this child does.
function leaveDeadSocket(path: string): void {
  const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  const child = spawnSync(process.execPath, ['-e', script], { stdio: 'ignore' });
  expect(child.signal).toBe('SIGKILL');
  expect(statSync(path).isSocket()).toBe(true);
}
