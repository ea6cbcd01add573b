import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/api/metrics.js';
import { IllegalStateError, ProcmgrError } from '../../../src/util/index.js';
import { recordingLogger } from '../../helpers/recording-logger.js';
import type { LogRecord } from '../../helpers/recording-logger.js';
import { FakeBackend, info } from './fake-backend.js';
import { TEST_TOKEN, putJson, send, useServers } from './http.js';

const servers = useServers();

describe('API routes', () => {
  it('GET /healthz answers 200 with the details, 503 when unhealthy', async () => {
    const backend = new FakeBackend();
    const { address } = await servers.start({ backend });
    const ok = await send(address, { path: '/healthz' });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ ok: true, engine: 'running' });
    backend.healthInfo = { ok: false, details: { engine: 'failed', ok: 'ignored' } };
    const bad = await send(address, { path: '/healthz' });
    expect(bad.status).toBe(503);
    expect(bad.json).toEqual({ ok: false, engine: 'failed' });
  });

  it('GET /readyz answers 200, or 503 naming the processes that are not ready', async () => {
    const backend = new FakeBackend(info('a', { readinessProbe: true }), info('b', { readinessProbe: true, ready: false, state: 'Starting' }));
    const { address } = await servers.start({ backend });
    const notReady = await send(address, { path: '/readyz' });
    expect(notReady.status).toBe(503);
    expect(notReady.json).toEqual({ ready: false, notReady: ['b'] });
    backend.processes.set('b', info('b', { readinessProbe: true }));
    const ready = await send(address, { path: '/readyz' });
    expect([ready.status, ready.json]).toEqual([200, { ready: true, notReady: [] }]);
    backend.gateReason = 'ProcessSet ns/web not read yet';
    const gated = await send(address, { path: '/readyz' });
    expect([gated.status, gated.json]).toEqual([503, { ready: false, notReady: [], reason: 'ProcessSet ns/web not read yet' }]);
  });

  it('GET /metrics answers the registry text with its content type; 404 without metrics', async () => {
    const backend = new FakeBackend(info('web'));
    const metrics = createMetrics({ backend, defaultMetrics: false });
    const { address } = await servers.start({ backend, metrics });
    const res = await send(address, { path: '/metrics' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(metrics.registry.contentType);
    expect(res.text).toContain('procmgr_process_phase{process="web",phase="Syncing"} 1');
    const bare = await servers.start({ backend });
    expect((await send(bare.address, { path: '/metrics' })).status).toBe(404);
  });

  it('GET /v1/processes lists, GET /v1/processes/:id shows one or 404s', async () => {
    const backend = new FakeBackend(info('b'), info('a/1'));
    const { address } = await servers.start({ backend });
    const list = await send(address, { path: '/v1/processes' });
    expect(list.status).toBe(200);
    expect((list.json as { processes: { id: string }[] }).processes.map((p) => p.id)).toEqual(['a/1', 'b']);
    const one = await send(address, { path: `/v1/processes/${encodeURIComponent('a/1')}` });
    expect([one.status, (one.json as { id: string }).id]).toEqual([200, 'a/1']);
    const missing = await send(address, { path: '/v1/processes/nope' });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ code: 'NOT_FOUND', message: 'no process "nope"', details: { id: 'nope' } });
  });

  it('PUT /v1/processes passes the entries to apply and answers its result', async () => {
    const backend = new FakeBackend(info('old'));
    const { address } = await servers.start({ backend });
    const res = await putJson(address, { processes: [{ id: 'old' }, { id: 'new' }] });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ created: ['new'], updated: [], removed: [], unchanged: ['old'] });
    expect(backend.applied).toEqual([[{ id: 'old' }, { id: 'new' }]]);
  });

  it.each(['restart', 'stop', 'start'])('POST /v1/processes/:id/%s answers 202, or 404 for an unknown id', async (action) => {
    const backend = new FakeBackend(info('web'));
    const { address } = await servers.start({ backend });
    const res = await send(address, { method: 'POST', path: `/v1/processes/web/${action}` });
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ id: 'web', action, accepted: true });
    expect(backend.calls).toEqual([`${action} web`]);
    expect((await send(address, { method: 'POST', path: `/v1/processes/nope/${action}` })).status).toBe(404);
  });

  it('GET /v1/processes/:id/logs answers NDJSON, the last `tail` lines', async () => {
    const backend = new FakeBackend(info('web'));
    for (const t of ['one', 'two', 'three']) backend.emitLine('web', t);
    const { address } = await servers.start({ backend });
    const res = await send(address, { path: '/v1/processes/web/logs?tail=2' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = res.text.trimEnd().split('\n').map((l) => JSON.parse(l) as { line: string; stream: string; seq: number });
    expect(lines.map((l) => l.line)).toEqual(['two', 'three']);
    expect(lines[0]).toMatchObject({ seq: 1, stream: 'stdout' });
    expect((await send(address, { path: '/v1/processes/nope/logs' })).status).toBe(404);
  });
});

describe('API errors', () => {
  it.each([
    ['garbled JSON', { 'Content-Type': 'application/json' }, '{"processes": [', 400, 'BAD_REQUEST'],
    ['an empty body', { 'Content-Type': 'application/json' }, '', 400, 'BAD_REQUEST'],
    ['a body that is not the envelope', { 'Content-Type': 'application/json' }, '{"processes": 5}', 400, 'BAD_REQUEST'],
    ['a non-JSON content type', { 'Content-Type': 'text/yaml' }, 'processes: []', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['no content type', {}, '{"processes": []}', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['bad entries (ConfigError)', { 'Content-Type': 'application/json' }, '{"processes": [{"id": 1}]}', 422, 'INVALID_CONFIG'],
    ['a key beside processes', { 'Content-Type': 'application/json' }, '{"processes": [], "dryRun": true}', 400, 'BAD_REQUEST'],
    // Schemas skip a __proto__ key unvalidated (zod's records do), whatever its value.
    ['a __proto__ key deep inside, spelled with escapes', { 'Content-Type': 'application/json' }, '{"processes": [{"id": "a", "env": {"\\u005f_proto__": {"x": 1}}}]}', 400, 'BAD_REQUEST'],
    ['a lone surrogate', { 'Content-Type': 'application/json' }, '{"processes": [{"id": "a\\ud800"}]}', 400, 'BAD_REQUEST'],
    // Decoded leniently, the bytes would become U+FFFD and a process "a\uFFFD" would be created.
    ['bytes that are not UTF-8', { 'Content-Type': 'application/json' }, Buffer.concat([Buffer.from('{"processes": [{"id": "a'), Buffer.from([0xff]), Buffer.from('"}]}')]), 400, 'BAD_REQUEST'],
  ])('PUT with %s is %i %s and applies nothing', async (_what, headers, body, status, code) => {
    const backend = new FakeBackend();
    const { address } = await servers.start({ backend });
    const res = await send(address, { method: 'PUT', path: '/v1/processes', headers, body });
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ code });
    expect(backend.applied).toEqual([]);
  });

  it('422 carries the problems of the ConfigError', async () => {
    const { address } = await servers.start({ backend: new FakeBackend() });
    const res = await putJson(address, { processes: [{ id: 'ok' }, {}] });
    expect(res.status).toBe(422);
    expect(res.json).toMatchObject({ code: 'INVALID_CONFIG', details: { problems: [{ path: 'processes[1].id', message: 'expected a string' }] } });
  });

  it('an envelope error names the bad path', async () => {
    const { address } = await servers.start({ backend: new FakeBackend() });
    const res = await putJson(address, { processes: 'all' });
    expect(res.json).toMatchObject({ code: 'BAD_REQUEST', details: { problems: [{ path: 'processes' }] } });
  });

  it('413 for a declared or streamed body over the limit, and nothing is applied', async () => {
    const backend = new FakeBackend();
    const { address } = await servers.start({ backend, bodyLimitBytes: 1024 });
    const big = JSON.stringify({ processes: [{ id: 'x', pad: 'y'.repeat(64 * 1024) }] });
    const declared = await send(address, { method: 'PUT', path: '/v1/processes', headers: { 'Content-Type': 'application/json' }, body: big });
    expect(declared.status).toBe(413);
    expect(declared.json).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { limitBytes: 1024 } });
    expect(declared.headers.connection).toBe('close');
    // Chunked: no Content-Length, so the limit is hit while reading.
    const chunked = await send(address, {
      method: 'PUT',
      path: '/v1/processes',
      headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
      body: big,
    });
    expect(chunked.status).toBe(413);
    expect(backend.applied).toEqual([]);
    // A body at the limit is fine.
    const fits = JSON.stringify({ processes: [{ id: 'x', pad: 'y'.repeat(1024 - 36) }] });
    expect(Buffer.byteLength(fits)).toBeLessThanOrEqual(1024);
    expect((await putJson(address, JSON.parse(fits))).status).toBe(200);
  });

  it('405 with Allow for a wrong method; 404 for unknown routes', async () => {
    const { address } = await servers.start({ backend: new FakeBackend(info('web')) });
    const del = await send(address, { method: 'DELETE', path: '/v1/processes/web' });
    expect([del.status, del.headers.allow]).toEqual([405, 'GET']);
    expect(del.json).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
    const post = await send(address, { method: 'POST', path: '/v1/processes' });
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, PUT']);
    expect((await send(address, { method: 'GET', path: '/v1/processes/web/restart' })).headers.allow).toBe('POST');
    for (const path of ['/', '/v2/processes', '/v1/processes/web/kill', '/healthz/x', '/v1/processes/', '/v1/processes/a/logs/x']) {
      const res = await send(address, { path });
      expect([path, res.status, (res.json as { code: string }).code]).toEqual([path, 404, 'NOT_FOUND']);
    }
  });

  it.each([
    ['tail=-1'],
    ['tail=abc'],
    ['tail=1.5'],
    ['follow=yes'],
  ])('400 for a bad query parameter: %s', async (query) => {
    const { address } = await servers.start({ backend: new FakeBackend(info('web')) });
    const res = await send(address, { path: `/v1/processes/web/logs?${query}` });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 'BAD_REQUEST', details: { param: query.split('=')[0] } });
  });

  it('answers what Node would answer with an empty body in JSON: a missing Host (400), an unknown Expect (417)', async () => {
    const backend = new FakeBackend(info('web'));
    const { address } = await servers.start({ backend });
    const noHost = await raw(address, `GET /v1/processes HTTP/1.1\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n\r\n`);
    expect(noHost).toMatch(/^HTTP\/1\.1 400 [^]*\r\n\r\n\{"code":"BAD_REQUEST","message":"an HTTP\/1\.1 request needs a Host header"/);
    // HTTP/1.0 needs none.
    expect(await raw(address, `GET /v1/processes HTTP/1.0\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200 /);
    const expect417 = await send(address, { method: 'PUT', path: '/v1/processes', headers: { 'Content-Type': 'application/json', Expect: 'x-now' }, body: '{"processes": []}' });
    expect([expect417.status, expect417.headers.connection]).toEqual([417, 'close']);
    expect(expect417.json).toMatchObject({ code: 'EXPECTATION_FAILED', details: {} });
    expect(backend.applied).toEqual([]);
  });

  it('400 for a path segment that is not valid percent-encoding', async () => {
    const { address } = await servers.start({ backend: new FakeBackend() });
    expect((await send(address, { path: '/v1/processes/%E0%A4%A' })).status).toBe(400);
  });

  it('503 with the backend code while it shuts down', async () => {
    const backend = new FakeBackend(info('web'));
    backend.shuttingDown = true;
    const { address } = await servers.start({ backend });
    const res = await send(address, { method: 'POST', path: '/v1/processes/web/restart' });
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ code: 'SHUT_DOWN' });
    backend.listError = new IllegalStateError('the manager is shutting down');
    const list = await send(address, { path: '/v1/processes' });
    expect([list.status, (list.json as { code: string }).code]).toEqual([503, 'ILLEGAL_STATE']);
  });

  it('500 INTERNAL for anything else: logged with the error, message not sent', async () => {
    const records: LogRecord[] = [];
    const backend = new FakeBackend();
    const { address } = await servers.start({ backend, logger: recordingLogger(records) });
    backend.listError = new Error('secret detail at /etc/x');
    const res = await send(address, { path: '/v1/processes' });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ code: 'INTERNAL', message: 'internal error; see the procmgr log', details: {} });
    expect(res.text).not.toContain('secret');
    expect(records.some((r) => r.level === 'error' && (r.obj['err'] as Error).message === 'secret detail at /etc/x')).toBe(true);
    // An unknown ProcmgrError code is no different.
    backend.listError = new ProcmgrError('SOMETHING_ELSE', 'x');
    expect((await send(address, { path: '/v1/processes' })).status).toBe(500);
  });
});

/** Sends `bytes` as they are (no Host added) and resolves with everything the server sent before closing. */
function raw(address: string, bytes: string): Promise<string> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) }, () => socket.end(bytes));
    let text = '';
    socket.on('data', (b: Buffer) => (text += b.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}
