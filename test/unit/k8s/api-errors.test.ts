import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ERROR_MAX_CHARS, apiErrorFields, describeApiError } from '../../../src/k8s/api.js';

// The Status a real kube-apiserver sends when RBAC refuses a call (copied from one).
const FORBIDDEN = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'processsets.procmgr.dev "x" is forbidden: User "system:serviceaccount:ns:procmgr" cannot list resource "processsets" in API group "procmgr.dev" in the namespace "ns"',
  reason: 'Forbidden',
  details: { name: 'x', group: 'procmgr.dev', kind: 'processsets' },
  code: 403,
};
const ALREADY_EXISTS = { ...FORBIDDEN, message: 'events "tok.2046822a5f" already exists', reason: 'AlreadyExists', details: { name: 'tok.2046822a5f', kind: 'events' }, code: 409 };

/** An HTTP server that answers every request with `reply`, so client-node builds its ApiException itself. */
let server: Server;
let reply: { status: number; body: string; type?: string } = { status: 403, body: JSON.stringify(FORBIDDEN) };
let core: CoreV1Api;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    res.writeHead(reply.status, { 'content-type': reply.type ?? 'application/json' }).end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  core = kc.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** What client-node throws for `reply`. */
async function thrown(): Promise<unknown> {
  return core.createNamespacedEvent({ namespace: 'ns', body: { metadata: { name: 'e' }, involvedObject: {} } }).then(
    () => expect.fail('the call succeeded'),
    (err: unknown) => err,
  );
}

describe('describeApiError', () => {
  it('turns client-node\'s ApiException for a Status into the Status message, HTTP code and reason', async () => {
    reply = { status: 403, body: JSON.stringify(FORBIDDEN) };
    const err = await thrown();
    expect(err).toBeInstanceOf(ApiException);
    // What the logs showed before: the catch-all text and the body escaped again.
    expect((err as Error).message).toContain('Unknown API Status Code!');
    expect(describeApiError(err)).toEqual({ message: `${FORBIDDEN.message} (403 Forbidden)`, code: 403, reason: 'Forbidden' });
    expect(apiErrorFields(err)).toEqual({ err: `${FORBIDDEN.message} (403 Forbidden)`, code: 403, reason: 'Forbidden' });
  });

  it('keeps the Status reason where it is more precise than the HTTP status', async () => {
    reply = { status: 409, body: JSON.stringify(ALREADY_EXISTS) };
    expect(describeApiError(await thrown())).toEqual({ message: 'events "tok.2046822a5f" already exists (409 AlreadyExists)', code: 409, reason: 'AlreadyExists' });
  });

  it('a body that is not JSON (a proxy\'s page) becomes one bounded line', async () => {
    reply = { status: 502, body: `<html>\n<body>${'bad gateway '.repeat(500)}</body>\n</html>`, type: 'text/html' };
    const d = describeApiError(await thrown());
    expect(d.code).toBe(502);
    expect(d.reason).toBe('Bad Gateway');
    expect(d.message).not.toMatch(/\n/);
    expect(d.message.length).toBeLessThanOrEqual(API_ERROR_MAX_CHARS);
    expect(d.message).toMatch(/^<html> <body>bad gateway .*… \(502 Bad Gateway\)$/);
  });

  it('an empty body says what the status says, once', async () => {
    reply = { status: 401, body: '' };
    expect(describeApiError(await thrown())).toEqual({ message: 'request failed (401 Unauthorized)', code: 401, reason: 'Unauthorized' });
  });

  it('a connection failure names its cause and has no code', async () => {
    // A port nothing listens on: one just closed.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const err = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'ns' }).catch((e: unknown) => e);
    expect(describeApiError(err)).toEqual({ message: expect.stringMatching(new RegExp(`^fetch failed: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`)) as string, code: undefined, reason: undefined });
    expect(apiErrorFields(err)).not.toHaveProperty('code');
  });

  it.each([
    ['a refused watch (client-node reads no body)', Object.assign(new Error('Forbidden'), { statusCode: 403 }), 'request failed (403 Forbidden)', 403, 'Forbidden'],
    ['a watch ERROR event', Object.assign(new Error('too old resource version: 1 (2)'), { statusCode: 410, reason: 'Expired' }), 'too old resource version: 1 (2) (410 Expired)', 410, 'Expired'],
    ['an abort', new DOMException('This operation was aborted', 'AbortError'), 'This operation was aborted', undefined, undefined],
    ['a string', 'boom', 'boom', undefined, undefined],
    ['undefined', undefined, 'undefined', undefined, undefined],
  ])('%s', (_, err, message, code, reason) => {
    expect(describeApiError(err)).toEqual({ message, code, reason });
  });

  it('never splits a surrogate pair when it shortens', () => {
    const text = `${'x'.repeat(API_ERROR_MAX_CHARS - 2)}😀😀😀`;
    const { message } = describeApiError(new Error(text));
    expect(message.length).toBeLessThanOrEqual(API_ERROR_MAX_CHARS);
    expect(message).toMatch(/^x+…$/u);
  });
});
