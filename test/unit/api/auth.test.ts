import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { authorize, bearerMatches } from '../../../src/api/index.js';
import { recordingLogger } from '../../helpers/recording-logger.js';
import type { LogRecord } from '../../helpers/recording-logger.js';
import { FakeBackend, info } from './fake-backend.js';
import { putJson, send, useServers } from './http.js';

const servers = useServers();

describe('authorize', () => {
  const T = 's3cret';
  it.each([
    // access, Authorization, token, transport → outcome
    ['open', undefined, undefined, 'tcp', 'ok'],
    ['open', 'Bearer wrong', T, 'tcp', 'ok'],
    ['read', undefined, T, 'tcp', 'UNAUTHORIZED'],
    ['read', 'Bearer wrong', T, 'tcp', 'UNAUTHORIZED'],
    ['read', `Bearer ${T}`, T, 'tcp', 'ok'],
    ['read', undefined, undefined, 'tcp', 'TOKEN_REQUIRED'],
    ['change', undefined, undefined, 'tcp', 'TOKEN_REQUIRED'],
    ['change', `Bearer ${T}`, undefined, 'tcp', 'TOKEN_REQUIRED'],
    ['change', undefined, T, 'tcp', 'UNAUTHORIZED'],
    ['change', 'Bearer wrong', T, 'tcp', 'UNAUTHORIZED'],
    ['change', `Basic ${T}`, T, 'tcp', 'UNAUTHORIZED'],
    ['change', `bearer ${T}`, T, 'tcp', 'ok'],
    ['change', `Bearer ${T}`, T, 'tcp', 'ok'],
    ['change', undefined, undefined, 'unix', 'ok'],
    ['change', 'Bearer anything', undefined, 'unix', 'ok'],
    ['read', undefined, T, 'unix', 'ok'],
    ['change', `Bearer ${T}`, T, 'unix', 'ok'],
    ['change', 'Bearer wrong', T, 'unix', 'UNAUTHORIZED'],
  ] as const)('%s with %s, token %s, %s → %s', (access, authorization, token, transport, outcome) => {
    const d = authorize({ access, authorization, token, transport });
    expect(d.ok ? 'ok' : d.error.code).toBe(outcome);
    if (!d.ok) {
      expect(d.error.status).toBe(outcome === 'UNAUTHORIZED' ? 401 : 403);
      if (outcome === 'UNAUTHORIZED') expect(d.error.headers['WWW-Authenticate']).toMatch(/^Bearer/);
      // A refusal never echoes what was presented.
      expect(d.error.message).not.toContain(T);
      expect(d.error.message).not.toContain('wrong');
    }
  });

  it('compares whole tokens only', () => {
    expect(bearerMatches('Bearer abc', 'abc')).toBe(true);
    expect(bearerMatches('Bearer ab', 'abc')).toBe(false);
    expect(bearerMatches('Bearer abcd', 'abc')).toBe(false);
    expect(bearerMatches('Bearer abc extra', 'abc')).toBe(false);
    expect(bearerMatches('Bearer ', 'abc')).toBe(false);
  });
});

describe('auth over HTTP', () => {
  it('loopback TCP: process data and changes need the token (401 + WWW-Authenticate); health, readiness and metrics stay open', async () => {
    const backend = new FakeBackend(info('web'));
    const { address } = await servers.start({ backend, token: 'tok', metrics: { registry: undefined } });
    for (const [method, path] of [['POST', '/v1/processes/web/restart'], ['GET', '/v1/processes'], ['GET', '/v1/processes/web'], ['GET', '/v1/processes/web/logs']] as const) {
      const none = await send(address, { method, path, auth: false });
      expect([method, path, none.status, none.headers['www-authenticate']]).toEqual([method, path, 401, 'Bearer realm="procmgr"']);
      expect((await send(address, { method, path, headers: { Authorization: 'Bearer nope' } })).json).toMatchObject({ code: 'UNAUTHORIZED' });
    }
    expect((await putJson(address, { processes: [] }, {})).status).toBe(401);
    expect((await send(address, { path: '/healthz', auth: false })).status).toBe(200);
    expect((await send(address, { path: '/readyz', auth: false })).status).toBe(200);
    expect((await send(address, { path: '/metrics', auth: false })).status).toBe(404); // open: 404 only because this server has no registry
    expect(backend.calls).toEqual([]);
    const right = await send(address, { method: 'POST', path: '/v1/processes/web/restart', headers: { Authorization: 'Bearer tok' } });
    expect(right.status).toBe(202);
    expect(backend.calls).toEqual(['restart web']);
  });

  it('metricsAuth: /metrics needs the token too', async () => {
    const { address } = await servers.start({ backend: new FakeBackend(), token: 'tok', metricsAuth: true, metrics: { registry: undefined } });
    expect((await send(address, { path: '/metrics', auth: false })).status).toBe(401);
    expect((await send(address, { path: '/metrics', headers: { Authorization: 'Bearer tok' } })).status).toBe(404);
  });

  it('an unknown id with a wrong token is 401, not 404', async () => {
    const { address } = await servers.start({ backend: new FakeBackend(), token: 'tok' });
    const res = await send(address, { method: 'POST', path: '/v1/processes/nope/stop', headers: { Authorization: 'Bearer x' } });
    expect(res.status).toBe(401);
  });

  it('a unix socket needs no token (its file mode decides who connects)', async () => {
    const backend = new FakeBackend(info('web'));
    const dir = servers.tempDir();
    const { address } = await servers.start({ backend, listen: `unix:${join(dir, 'api.sock')}`, token: 'tok' });
    expect((await send(address, { method: 'POST', path: '/v1/processes/web/stop', auth: false })).status).toBe(202);
    expect((await send(address, { path: '/v1/processes', auth: false })).status).toBe(200);
  });

  it('TCP without a token: 403 TOKEN_REQUIRED for process data and changes (warned at start); setToken rotates', async () => {
    const records: LogRecord[] = [];
    const backend = new FakeBackend(info('web'));
    const server = await servers.start({ backend, token: undefined, logger: recordingLogger(records) });
    expect(records.find((r) => r.msg?.startsWith('API listening'))).toMatchObject({ level: 'warn', obj: { auth: 'refused' } });
    const refused = await send(server.address, { method: 'POST', path: '/v1/processes/web/restart' });
    expect([refused.status, (refused.json as { code: string }).code]).toEqual([403, 'TOKEN_REQUIRED']);
    expect((await send(server.address, { path: '/v1/processes' })).status).toBe(403);
    expect((await send(server.address, { path: '/healthz' })).status).toBe(200);

    server.setToken('one');
    expect((await send(server.address, { path: '/v1/processes', headers: { Authorization: 'Bearer one' } })).status).toBe(200);
    server.setToken('two');
    expect((await send(server.address, { path: '/v1/processes', headers: { Authorization: 'Bearer one' } })).status).toBe(401);
    expect((await send(server.address, { path: '/v1/processes', headers: { Authorization: 'Bearer two' } })).status).toBe(200);
    expect(backend.calls).toEqual([]);
  });

  it('the start log says how the API is protected, never a bare true, and never the token', async () => {
    const records: LogRecord[] = [];
    await servers.start({ backend: new FakeBackend(), token: 'secret-token-value', logger: recordingLogger(records) });
    await servers.start({ backend: new FakeBackend(), listen: `unix:${join(servers.tempDir(), 'a.sock')}`, logger: recordingLogger(records) });
    const starts = records.filter((r) => r.msg === 'API listening');
    expect(starts.map((r) => r.obj.auth)).toEqual(['token', 'unix-socket']);
    expect(starts[0]?.obj).toMatchObject({ open: ['/healthz', '/readyz', '/metrics'] });
    expect(starts[1]?.obj).toMatchObject({ socketMode: '0600' });
    expect(JSON.stringify(records)).not.toContain('secret-token-value');
  });

  it('logs refused requests as warnings, without the presented credentials, and at most a burst of them', async () => {
    const records: LogRecord[] = [];
    const { address } = await servers.start({ backend: new FakeBackend(), token: 'tok', logger: recordingLogger(records) });
    for (let i = 0; i < 30; i++) await send(address, { path: '/v1/processes', headers: { Authorization: 'Bearer guessed-credential' } });
    const refused = records.filter((r) => r.msg === 'API request refused');
    expect(refused.length).toBe(20);
    expect(refused[0]).toMatchObject({ level: 'warn', obj: { code: 'UNAUTHORIZED', method: 'GET', path: '/v1/processes' } });
    expect(JSON.stringify(records)).not.toContain('guessed-credential');
  });
});
