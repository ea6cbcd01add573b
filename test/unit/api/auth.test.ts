import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { authorize, bearerMatches } from '../../../src/api/index.js';
import { recordingLogger } from '../../helpers/recording-logger.js';
import type { LogRecord } from '../../helpers/recording-logger.js';
import { FakeBackend, info } from './fake-backend.js';
import { send, useServers } from './http.js';

const servers = useServers();

describe('authorize', () => {
  const T = 's3cret';
  it.each([
    // method, Authorization, token, localOnly → outcome
    ['GET', undefined, undefined, false, 'ok'],
    ['GET', 'Bearer wrong', T, false, 'ok'],
    ['PUT', undefined, undefined, true, 'ok'],
    ['POST', 'Bearer anything', undefined, true, 'ok'],
    ['POST', undefined, T, true, 'ok'],
    ['POST', `Bearer ${T}`, T, true, 'ok'],
    ['POST', 'Bearer wrong', T, true, 'UNAUTHORIZED'],
    ['POST', `Basic ${T}`, T, true, 'UNAUTHORIZED'],
    ['PUT', undefined, undefined, false, 'TOKEN_REQUIRED'],
    ['PUT', `Bearer ${T}`, undefined, false, 'TOKEN_REQUIRED'],
    ['PUT', undefined, T, false, 'UNAUTHORIZED'],
    ['PUT', 'Bearer wrong', T, false, 'UNAUTHORIZED'],
    ['PUT', `bearer ${T}`, T, false, 'ok'],
    ['POST', `Bearer ${T}`, T, false, 'ok'],
  ] as const)('%s with %s, token %s, localOnly %s → %s', (method, authorization, token, localOnly, outcome) => {
    const d = authorize({ method, authorization, token, localOnly });
    expect(d.ok ? 'ok' : d.error.code).toBe(outcome);
    if (!d.ok) {
      expect(d.error.status).toBe(outcome === 'UNAUTHORIZED' ? 401 : 403);
      if (outcome === 'UNAUTHORIZED') expect(d.error.headers['WWW-Authenticate']).toMatch(/^Bearer/);
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
  it('loopback: no token needed; a configured token must match when a header is sent (401 + WWW-Authenticate)', async () => {
    const backend = new FakeBackend(info('web'));
    const { address } = await servers.start({ backend, token: 'tok' });
    expect((await send(address, { method: 'POST', path: '/v1/processes/web/restart' })).status).toBe(202);
    const wrong = await send(address, { method: 'POST', path: '/v1/processes/web/restart', headers: { Authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(wrong.json).toMatchObject({ code: 'UNAUTHORIZED' });
    const right = await send(address, { method: 'POST', path: '/v1/processes/web/restart', headers: { Authorization: 'Bearer tok' } });
    expect(right.status).toBe(202);
    expect(backend.calls).toEqual(['restart web', 'restart web']);
  });

  it('an unknown id with a wrong token is 401, not 404', async () => {
    const { address } = await servers.start({ backend: new FakeBackend(), token: 'tok' });
    const res = await send(address, { method: 'POST', path: '/v1/processes/nope/stop', headers: { Authorization: 'Bearer x' } });
    expect(res.status).toBe(401);
  });

  it('a unix socket needs no token', async () => {
    const backend = new FakeBackend(info('web'));
    const dir = servers.tempDir();
    const { address } = await servers.start({ backend, listen: `unix:${join(dir, 'api.sock')}`, token: 'tok' });
    expect((await send(address, { method: 'POST', path: '/v1/processes/web/stop' })).status).toBe(202);
  });

  // Beyond loopback for real only when this machine has such an address; the decision itself is covered above.
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;

  it.skipIf(external === undefined)('beyond loopback: 403 TOKEN_REQUIRED without a token (warned at start), 401/202 with one', async () => {
    const records: LogRecord[] = [];
    const backend = new FakeBackend(info('web'));
    const open = await servers.start({ backend, listen: `${external}:0`, logger: recordingLogger(records) });
    expect(records.some((r) => r.level === 'warn' && /without a token/.test(r.msg ?? ''))).toBe(true);
    const refused = await send(open.address, { method: 'POST', path: '/v1/processes/web/restart' });
    expect([refused.status, (refused.json as { code: string }).code]).toEqual([403, 'TOKEN_REQUIRED']);
    expect((await send(open.address, { path: '/v1/processes' })).status).toBe(200);

    const guarded = await servers.start({ backend, listen: `${external}:0`, token: 'tok' });
    expect((await send(guarded.address, { method: 'POST', path: '/v1/processes/web/restart' })).status).toBe(401);
    const ok = await send(guarded.address, { method: 'POST', path: '/v1/processes/web/restart', headers: { Authorization: 'Bearer tok' } });
    expect(ok.status).toBe(202);
    expect(backend.calls).toEqual(['restart web']);
  });
});
