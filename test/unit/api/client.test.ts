import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError, createApiClient } from '../../../src/api/index.js';
import type { LogLine } from '../../../src/supervisor/index.js';
import { eventually } from '../../helpers/eventually.js';
import { FakeBackend, info } from './fake-backend.js';
import { TEST_TOKEN, useServers } from './http.js';

const servers = useServers();

describe('ApiClient against the real server', () => {
  it('lists, gets, acts, applies and reads health and readiness over TCP', async () => {
    const backend = new FakeBackend(info('web', { readinessProbe: true }), info('a/b'));
    const { address } = await servers.start({ backend });
    const client = createApiClient({ address, token: TEST_TOKEN });
    expect((await client.list()).map((p) => p.id)).toEqual(['a/b', 'web']);
    expect((await client.get('a/b')).id).toBe('a/b');
    await client.restart('web');
    await client.stop('a/b');
    await client.start('a/b');
    expect(backend.calls).toEqual(['restart web', 'stop a/b', 'start a/b']);
    expect(await client.apply([{ id: 'new' }])).toEqual({ created: ['new'], updated: [], removed: [], unchanged: [] });
    expect(await client.health()).toEqual({ ok: true, details: { engine: 'running' } });
    expect(await client.ready()).toEqual({ ready: true, notReady: [] });
    backend.healthInfo = { ok: false, details: { engine: 'failed' } };
    backend.processes.set('web', info('web', { readinessProbe: true, ready: false }));
    expect(await client.health()).toEqual({ ok: false, details: { engine: 'failed' } });
    expect(await client.ready()).toEqual({ ready: false, notReady: ['web'] });
  });

  it('turns error answers into ApiError with the server code, status and details', async () => {
    const backend = new FakeBackend(info('web'));
    const { address } = await servers.start({ backend, token: 'tok' });
    const client = createApiClient({ address: `http://${address}/`, token: 'tok' });
    await expect(client.get('nope')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404, details: { id: 'nope' } });
    await expect(client.apply([{}])).rejects.toMatchObject({ code: 'INVALID_CONFIG', status: 422, details: { problems: [{ path: 'processes[0].id' }] } });
    const wrong = createApiClient({ address, token: 'bad' });
    const err = await wrong.restart('web').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    await createApiClient({ address, token: 'tok' }).restart('web');
    expect(backend.calls).toEqual(['restart web']);
  });

  it('reads and follows logs over a unix socket', async () => {
    const backend = new FakeBackend(info('web'));
    for (const t of ['a', 'b', 'c']) backend.emitLine('web', t);
    const path = join(servers.tempDir(), 'api.sock');
    await servers.start({ backend, listen: `unix:${path}` });
    const client = createApiClient({ address: `unix:${path}` });
    expect((await client.logs('web', { tail: 2 })).map((l) => l.line)).toEqual(['b', 'c']);
    expect((await client.logs('web')).length).toBe(3);

    const got: LogLine[] = [];
    const ac = new AbortController();
    const following = client.followLogs('web', (l) => got.push(l), ac.signal, { tail: 1 });
    await eventually('the follower', () => backend.followerCount('web') === 1);
    backend.emitLine('web', 'd');
    backend.emitLine('web', 'e');
    await eventually('three lines', () => got.length === 3);
    expect(got.map((l) => l.line)).toEqual(['c', 'd', 'e']);
    ac.abort(new Error('done'));
    await expect(following).rejects.toThrow('done');
    await eventually('the follower to be removed', () => backend.followerCount('web') === 0);
  });

  it('followLogs resolves when the server stops, and rejects at once for an unknown id', async () => {
    const backend = new FakeBackend(info('web'));
    const server = await servers.start({ backend });
    const client = createApiClient({ address: server.address, token: TEST_TOKEN });
    await expect(client.followLogs('nope', () => undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const following = client.followLogs('web', () => undefined);
    await eventually('the follower', () => backend.followerCount('web') === 1);
    await server.stop();
    await expect(following).resolves.toBeUndefined();
  });

  it('an aborted signal rejects before connecting', async () => {
    const client = createApiClient({ address: '127.0.0.1:1' });
    const ac = new AbortController();
    ac.abort(new Error('cancelled'));
    await expect(client.list({ signal: ac.signal })).rejects.toThrow('cancelled');
  });

  it('UNREACHABLE, naming the address, when nothing listens on a port or a socket path', async () => {
    const port = await freePort();
    const tcp = await createApiClient({ address: `127.0.0.1:${port}` }).list().catch((e: unknown) => e);
    expect(tcp).toMatchObject({ code: 'UNREACHABLE', status: undefined, details: { errno: 'ECONNREFUSED' } });
    expect((tcp as Error).message).toBe(`cannot reach procmgr at 127.0.0.1:${port}: ECONNREFUSED`);
    const path = join(servers.tempDir(), 'none.sock');
    const unix = await createApiClient({ address: `unix:${path}` }).health().catch((e: unknown) => e);
    expect(unix).toMatchObject({ code: 'UNREACHABLE', details: { errno: 'ENOENT' } });
    expect((unix as Error).message).toBe(`cannot reach procmgr at unix:${path}: ENOENT`);
  });
});

/** A port that was free a moment ago (bound, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}
