import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { checkBrowser, checkFormPost, hostName, type GuardListen } from '../../../src/api/guard.js';
import { recordingLogger, type LogRecord } from '../../helpers/recording-logger.js';
import { FakeBackend, info } from './fake-backend.js';
import { TEST_TOKEN, send, useServers } from './http.js';

const servers = useServers();
const AUTH = { authorization: `Bearer ${TEST_TOKEN}` };

function tcp(host: string, allowed: readonly string[] = []): GuardListen {
  return { transport: 'tcp', host, allowedHosts: new Set(allowed) };
}

const verdict = (method: string, headers: IncomingHttpHeaders, listen: GuardListen): string => checkBrowser(method, headers, listen)?.code ?? 'ok';

describe('checkBrowser: Host (DNS rebinding)', () => {
  it.each([
    // listen host, Host header → outcome
    ['127.0.0.1', '127.0.0.1:7070', 'ok'],
    ['127.0.0.1', '127.0.0.1', 'ok'],
    ['127.0.0.1', 'localhost:7070', 'ok'],
    ['127.0.0.1', 'LOCALHOST:9000', 'ok'], // an SSH tunnel's port
    ['127.0.0.1', '127.0.0.2:7070', 'ok'],
    ['127.0.0.1', '[::1]:7070', 'ok'],
    ['127.0.0.1', 'attacker.example:7070', 'HOST_NOT_ALLOWED'],
    ['127.0.0.1', 'localhost.attacker.example', 'HOST_NOT_ALLOWED'],
    ['127.0.0.1', 'localhost.', 'HOST_NOT_ALLOWED'],
    ['127.0.0.1', '10.0.0.5:7070', 'HOST_NOT_ALLOWED'],
    ['127.0.0.1', '2130706433:7070', 'HOST_NOT_ALLOWED'], // 127.0.0.1 as a number is a name to us
    ['127.0.0.1', '', 'HOST_NOT_ALLOWED'],
    ['127.0.0.1', 'a b', 'HOST_NOT_ALLOWED'],
    ['127.0.0.1', '127.0.0.1:7070:1', 'HOST_NOT_ALLOWED'],
    ['::1', '[::1]:7070', 'ok'],
    ['::1', 'localhost', 'ok'],
    ['0.0.0.0', '172.17.0.2:7070', 'ok'], // a wildcard listens on every address, port maps included
    ['0.0.0.0', '127.0.0.1:32768', 'ok'],
    ['0.0.0.0', 'procmgr.example:7070', 'HOST_NOT_ALLOWED'],
    ['::', '[fd00::1]:7070', 'ok'],
    ['10.0.0.5', '10.0.0.5:7070', 'ok'],
    ['10.0.0.5', '10.0.0.6:7070', 'HOST_NOT_ALLOWED'],
    ['myhost.lan', 'myhost.lan:7070', 'ok'],
    ['myhost.lan', 'other.lan:7070', 'HOST_NOT_ALLOWED'],
  ])('listening on %s, Host %j → %s', (listen, host, outcome) => {
    expect(verdict('GET', { host }, tcp(listen))).toBe(outcome);
  });

  it('allowedHosts adds names; no Host at all (HTTP/1.0, not a browser) passes; a unix socket is not checked', () => {
    expect(verdict('GET', { host: 'procmgr.internal:7070' }, tcp('0.0.0.0', ['procmgr.internal']))).toBe('ok');
    expect(verdict('GET', { host: 'other.internal:7070' }, tcp('0.0.0.0', ['procmgr.internal']))).toBe('HOST_NOT_ALLOWED');
    expect(verdict('GET', {}, tcp('127.0.0.1'))).toBe('ok');
    expect(verdict('POST', { host: 'attacker.example', origin: 'http://evil.example' }, { transport: 'unix', host: '', allowedHosts: new Set() })).toBe('ok');
  });

  it('hostName strips the port and IPv6 brackets', () => {
    expect(hostName('[::1]:7070')).toBe('::1');
    expect(hostName('Example.COM')).toBe('example.com');
    expect(hostName('[::1')).toBeUndefined();
  });
});

describe('checkBrowser: Origin, Sec-Fetch-Site and content type (CSRF)', () => {
  const host = '127.0.0.1:7070';
  it.each([
    ['POST', { host, origin: 'http://127.0.0.1:7070', ...AUTH }, 'ok'],
    ['POST', { host, origin: 'https://127.0.0.1:7070', ...AUTH }, 'ok'],
    ['POST', { host, ...AUTH }, 'ok'],
    ['POST', { host, origin: 'http://evil.example', ...AUTH }, 'ORIGIN_NOT_ALLOWED'],
    ['POST', { host, origin: 'http://127.0.0.1:7071', ...AUTH }, 'ORIGIN_NOT_ALLOWED'],
    ['POST', { host, origin: 'null', ...AUTH }, 'ORIGIN_NOT_ALLOWED'],
    ['POST', { host, origin: 'file://', ...AUTH }, 'ORIGIN_NOT_ALLOWED'],
    ['GET', { host, origin: 'http://evil.example', ...AUTH }, 'ORIGIN_NOT_ALLOWED'],
    ['POST', { host, 'sec-fetch-site': 'cross-site', ...AUTH }, 'ORIGIN_NOT_ALLOWED'],
    ['POST', { host, 'sec-fetch-site': 'same-site', ...AUTH }, 'ORIGIN_NOT_ALLOWED'],
    ['POST', { host, 'sec-fetch-site': 'same-origin', ...AUTH }, 'ok'],
    ['GET', { host, 'sec-fetch-site': 'cross-site' }, 'ok'], // a link followed: reads need the token anyway
  ] as const)('%s with %j → %s', (method, headers, outcome) => {
    expect(verdict(method, headers, tcp('127.0.0.1'))).toBe(outcome);
  });

  it.each([
    // A form post or no-cors fetch: no Authorization, a "simple" content type or none.
    ['POST', { 'content-type': 'application/x-www-form-urlencoded' }, 'UNSUPPORTED_MEDIA_TYPE'],
    ['POST', { 'content-type': 'multipart/form-data; boundary=x' }, 'UNSUPPORTED_MEDIA_TYPE'],
    ['PUT', { 'content-type': 'text/plain' }, 'UNSUPPORTED_MEDIA_TYPE'],
    ['POST', {}, 'UNSUPPORTED_MEDIA_TYPE'],
    ['PUT', { 'content-type': 'application/json; charset=utf-8' }, 'ok'],
    ['POST', { ...AUTH }, 'ok'],
    ['GET', {}, 'ok'],
  ] as const)('form-post check: %s with %j → %s', (method, headers, outcome) => {
    expect(checkFormPost(method, headers, 'tcp')?.code ?? 'ok').toBe(outcome);
    expect(checkFormPost(method, headers, 'unix')).toBeUndefined();
  });
});

describe('browser checks over HTTP', () => {
  it('a rebinding Host or a foreign Origin is refused before routing, with a JSON error and a warning; the same request from our own origin passes', async () => {
    const records: LogRecord[] = [];
    const backend = new FakeBackend(info('web'));
    const { address } = await servers.start({ backend, logger: recordingLogger(records) });
    const port = address.split(':')[1];
    const rebound = await send(address, { method: 'POST', path: '/v1/processes/web/stop', headers: { Host: `attacker.example:${port}` } });
    expect([rebound.status, rebound.json]).toMatchObject([403, { code: 'HOST_NOT_ALLOWED', details: { host: `attacker.example:${port}` } }]);
    // Before routing: an unknown path is refused the same way, not 404.
    expect((await send(address, { path: '/nope', headers: { Host: 'attacker.example' } })).status).toBe(403);
    const csrf = await send(address, { method: 'POST', path: '/v1/processes/web/stop', headers: { Origin: 'http://evil.example' } });
    expect([csrf.status, csrf.json]).toMatchObject([403, { code: 'ORIGIN_NOT_ALLOWED' }]);
    expect(backend.calls).toEqual([]);
    expect(records.filter((r) => r.msg === 'API request refused').map((r) => r.obj.code)).toEqual(['HOST_NOT_ALLOWED', 'HOST_NOT_ALLOWED', 'ORIGIN_NOT_ALLOWED']);

    const same = await send(address, { method: 'POST', path: '/v1/processes/web/stop', headers: { Origin: `http://${address}` } });
    expect(same.status).toBe(202);
    expect(backend.calls).toEqual(['stop web']);
  });

  it('allowedHosts lets a configured name through', async () => {
    const { address } = await servers.start({ backend: new FakeBackend(), allowedHosts: ['Procmgr.Internal'] });
    expect((await send(address, { path: '/v1/processes', headers: { Host: 'procmgr.internal:7070' } })).status).toBe(200);
    expect((await send(address, { path: '/v1/processes', headers: { Host: 'other.internal:7070' } })).status).toBe(403);
  });
});
