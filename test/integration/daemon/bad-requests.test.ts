import { rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessInfo } from '../../../src/api/index.js';
import { realClock, sleep } from '../../../src/util/index.js';
import { DaemonProcess, eventually, writeConfig } from '../../helpers/daemon.js';
import { tempDir } from '../../helpers/supervised.js';

// A bad-request corpus against the real daemon (issue #14, "secure by default"): hostile or broken
// requests over raw TCP, so every byte is ours. Each one must get a 4xx with the API's JSON error
// body, or a closed connection; never a 5xx, never a hang, never a crash, and never a change to the
// processes the daemon runs.

const CONFIG = `
processManager:
  api:
    requestTimeout: 1s
    bodyLimit: 64Ki
    maxConnections: 64
  reload: { watch: false }
processes:
  - id: a
    command: sleep
    args: ["1000"]
  - id: b
    command: sleep
    args: ["1001"]
`;
const BODY_LIMIT = 64 * 1024;
const MAX_CONNECTIONS = 64;

/** The config's processes as a PUT would send them: applying them changes nothing. */
const A = { id: 'a', command: 'sleep', args: ['1000'] };
const B = { id: 'b', command: 'sleep', args: ['1001'] };
const A_B = [A, B];

/** How long one case may take before it counts as a hang: far past the 1 s request timeout, for a loaded machine. */
const DEADLINE_MS = 10_000;

let dir: string;
let d: DaemonProcess;
let port: number;
let token: string;
/** a and b as the corpus found them. */
let before: Map<string, ProcessInfo>;

beforeAll(async () => {
  dir = tempDir('procmgr-bad-requests-');
  d = await DaemonProcess.start(writeConfig(dir, CONFIG));
  port = Number(d.address.slice(d.address.lastIndexOf(':') + 1));
  expect(d.token, 'the daemon generated a token').toBeDefined();
  token = d.token!;
  before = await eventually('a and b running', async () => {
    const ps = await processes();
    return ['a', 'b'].every((id) => ps.get(id)?.state === 'Running' && ps.get(id)?.pid !== undefined) && ps;
  });
});

afterAll(async () => {
  await d?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function processes(): Promise<Map<string, ProcessInfo>> {
  const { status, body } = await d.json<{ processes: ProcessInfo[] }>('/v1/processes');
  expect(status).toBe(200);
  return new Map(body.processes.map((p) => [p.id, p]));
}

// ---- raw HTTP over a socket -------------------------------------------------------------------

interface Response {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  readonly text: string;
}

interface Exchange {
  /** Every complete response, in order (1xx interim responses skipped). */
  readonly responses: Response[];
  /** The server closed (or reset) the connection before we had the responses we waited for. */
  readonly closed: boolean;
  /** Bytes that did not parse as a response. */
  readonly rest: string;
}

/** What to send: bytes in one write, or a script that writes on the socket as it likes. */
type Send = string | Buffer | ((socket: Socket) => Promise<void>);

/**
 * Connects, sends, and collects responses until `responses` of them are complete or the server
 * closes the connection. Rejects when neither happens within `deadlineMs`: a hang.
 * `head`: the requests are HEAD, so responses have no body whatever their Content-Length.
 */
function exchange(send: Send, opts: { responses?: number; deadlineMs?: number; head?: boolean } = {}): Promise<Exchange> {
  const want = opts.responses ?? 1;
  const deadlineMs = opts.deadlineMs ?? DEADLINE_MS;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const responses: Response[] = [];
    let buf: Buffer = Buffer.alloc(0);
    let settled = false;
    const settle = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      socket.destroy();
      if (closed) {
        // A response without a length ends with the connection.
        const last = parseResponse(buf, { toClose: true, head: opts.head ?? false });
        if (last) {
          if (last.response) responses.push(last.response);
          buf = last.rest;
        }
      }
      resolve({ responses, closed: closed && responses.length < want, rest: buf.toString('latin1') });
    };
    const timer = realClock.setTimer(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new Error(`no answer and no close within ${deadlineMs} ms (a hang); got ${responses.length} response(s) and ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
    }, deadlineMs);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const parsed = parseResponse(buf, { toClose: false, head: opts.head ?? false });
        if (!parsed) break;
        buf = parsed.rest;
        if (parsed.response) responses.push(parsed.response);
      }
      if (responses.length >= want) settle(false);
    });
    // A reset (EPIPE, ECONNRESET) is the server closing too.
    socket.on('error', () => settle(true));
    socket.on('close', () => settle(true));
    socket.once('connect', () => {
      const writing = typeof send === 'function' ? send(socket) : write(socket, send);
      writing.catch(() => undefined); // the server may close while we still write
    });
  });
}

function write(socket: Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    socket.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * One response off the front of `buf`: undefined while incomplete; `response` undefined for a
 * 1xx (skipped). With `toClose`, a response without a length takes the rest of the bytes.
 */
function parseResponse(buf: Buffer, opts: { toClose: boolean; head: boolean }): { response: Response | undefined; rest: Buffer } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(`${statusLine} `);
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`);
  const status = Number(m[1]);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  const start = end + 4;
  if (status >= 100 && status < 200) return { response: undefined, rest: buf.subarray(start) };
  const done = (bodyEnd: number, text: string): { response: Response; rest: Buffer } => ({ response: { status, headers, text }, rest: buf.subarray(bodyEnd) });
  if (opts.head || status === 204 || status === 304) return done(start, '');
  const length = headers.get('content-length');
  if (length !== undefined) {
    const n = Number(length);
    return buf.length - start < n ? undefined : done(start + n, buf.subarray(start, start + n).toString('utf8'));
  }
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
    const parts: Buffer[] = [];
    for (let at = start; ; ) {
      const eol = buf.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
      if (buf.length < eol + 2 + size + 2) return undefined;
      if (size === 0) return done(eol + 4, Buffer.concat(parts).toString('utf8'));
      parts.push(buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
  return opts.toClose ? done(buf.length, buf.subarray(start).toString('utf8')) : undefined;
}

// ---- requests --------------------------------------------------------------------------------

interface RequestOpts {
  readonly headers?: readonly string[];
  readonly body?: string | Buffer;
  /** Send the valid token (default true). */
  readonly auth?: boolean;
  /** Send `Host: 127.0.0.1:<port>` (default true). */
  readonly host?: boolean;
  /** Add a Content-Length for `body` (default true when there is a body). */
  readonly length?: boolean;
}

/** A request as bytes: request line, Host, Authorization, `headers`, then `body`. */
function request(method: string, target: string, opts: RequestOpts = {}): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`];
  if (opts.host ?? true) lines.push(`Host: 127.0.0.1:${port}`);
  if (opts.auth ?? true) lines.push(`Authorization: Bearer ${token}`);
  lines.push(...(opts.headers ?? []));
  const body = opts.body === undefined ? Buffer.alloc(0) : Buffer.from(opts.body);
  if (opts.body !== undefined && (opts.length ?? true)) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

/** A PUT /v1/processes of `body` (text or a value to serialize) as application/json. */
function put(body: unknown, headers: readonly string[] = ['Content-Type: application/json']): Buffer {
  return request('PUT', '/v1/processes', { headers, body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) });
}

/** `body` sent chunked, `chunk` bytes a chunk. */
function chunked(text: string, chunk: number): string {
  let out = '';
  for (let i = 0; i < text.length; i += chunk) {
    const part = text.slice(i, i + chunk);
    out += `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`;
  }
  return `${out}0\r\n\r\n`;
}

// ---- what every answer must be --------------------------------------------------------------

interface Expected {
  /** The statuses allowed for the answer. */
  readonly status: number | readonly number[];
  /** The error code the JSON body must carry. */
  readonly code?: string | readonly string[];
  /** Closing without an answer is acceptable too (a timeout, a reset while we were still sending). */
  readonly mayClose?: boolean;
  /** The requests are HEAD: no body to check. */
  readonly head?: boolean;
  /** More to check on the answer. */
  readonly check?: (r: Response) => void;
}

/** A 4xx with the API's JSON error body `{ code, message, details }`. */
function expectJsonError(r: Response, want: Expected): void {
  const context = `${r.status} ${r.text.slice(0, 300)}`;
  expect(r.status, context).toBeGreaterThanOrEqual(400);
  expect(r.status, context).toBeLessThan(500);
  expect([want.status].flat(), context).toContain(r.status);
  if (want.head) return;
  expect(r.headers.get('content-type'), context).toMatch(/^application\/json\b/);
  const body = JSON.parse(r.text) as Record<string, unknown>;
  expect(typeof body['code'], context).toBe('string');
  expect(typeof body['message'], context).toBe('string');
  expect(body['details'], context).toBeTypeOf('object');
  expect(body['details'], context).not.toBeNull();
  if (want.code !== undefined) expect([want.code].flat(), context).toContain(body['code']);
  want.check?.(r);
}

/** The first answer is the expected JSON error, or (if allowed) the connection closed without one. Nothing is ever a 5xx. */
function expectRefused(x: Exchange, want: Expected): void {
  for (const r of x.responses) expect(r.status, r.text).toBeLessThan(500);
  const [first] = x.responses;
  if (first === undefined) {
    expect(want.mayClose, `closed without an answer (${JSON.stringify(x.rest.slice(0, 200))})`).toBe(true);
    expect(x.closed).toBe(true);
    return;
  }
  expectJsonError(first, want);
}

/** PUTs a and b alone again (removing `gone`), and waits until the list is a and b. */
async function restoreAB(gone: readonly string[]): Promise<void> {
  const x = await exchange(put({ processes: A_B }));
  expect(x.responses[0]?.status, x.responses[0]?.text).toBe(200);
  expect(json(x.responses[0])).toEqual({ created: [], updated: [], removed: [...gone].sort(), unchanged: ['a', 'b'] });
  await eventually('only a and b listed', async () => [...(await processes()).keys()].join() === 'a,b');
}

function json(r: Response | undefined): Record<string, unknown> {
  expect(r).toBeDefined();
  return JSON.parse(r!.text) as Record<string, unknown>;
}

/** A script: `first`, then one byte of `trickle` every `everyMs` until the server closes. */
function slowly(first: string, trickle: string, everyMs: number): (socket: Socket) => Promise<void> {
  return async (socket) => {
    await write(socket, first);
    for (let i = 0; !socket.destroyed && !socket.readableEnded; i++) {
      await sleep(realClock, everyMs);
      await write(socket, trickle[i % trickle.length]!);
    }
  };
}

/** A script: `first`, then nothing (the exchange ends when the server answers or closes). */
function thenSilence(first: string | Buffer): (socket: Socket) => Promise<void> {
  return (socket) => write(socket, first);
}

// ---- the corpus --------------------------------------------------------------------------------

interface Case extends Expected {
  readonly name: string;
  /** Built per run: the port and token are known only once the daemon runs. */
  readonly send: () => Send;
}

const big = (n: number): string => 'x'.repeat(n);

const BODY_CASES: Case[] = [
  { name: 'garbled JSON', send: () => put('{"processes": [{"id": "a",,]'), status: 400, code: 'BAD_REQUEST' },
  { name: 'truncated JSON', send: () => put('{"processes":'), status: 400, code: 'BAD_REQUEST' },
  { name: 'empty body', send: () => put(''), status: 400, code: 'BAD_REQUEST' },
  { name: 'whitespace-only body', send: () => put(' \r\n\t '), status: 400, code: 'BAD_REQUEST' },
  { name: 'no body and no Content-Length', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json'] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'JSON null', send: () => put('null'), status: 400, code: 'BAD_REQUEST' },
  { name: 'JSON array (the list without the envelope)', send: () => put(A_B), status: 400, code: 'BAD_REQUEST' },
  { name: 'JSON string', send: () => put('"processes"'), status: 400, code: 'BAD_REQUEST' },
  { name: 'JSON number', send: () => put('1e999'), status: 400, code: 'BAD_REQUEST' },
  { name: 'processes is an object', send: () => put({ processes: {} }), status: 400, code: 'BAD_REQUEST' },
  { name: 'processes is null', send: () => put({ processes: null }), status: 400, code: 'BAD_REQUEST' },
  { name: 'an entry that is not an object', send: () => put({ processes: [A, 'b'] }), status: 422, code: 'INVALID_CONFIG' },
  { name: 'an entry with an unknown key', send: () => put({ processes: [{ ...A, shell: 'rm -rf /' }, B] }), status: 422, code: 'INVALID_CONFIG' },
  { name: 'two entries with one id', send: () => put({ processes: [A, { ...B, id: 'a' }] }), status: 422, code: 'INVALID_CONFIG' },
  { name: 'a byte-order mark before the JSON', send: () => put(`\uFEFF${JSON.stringify({ processes: A_B })}`), status: 400, code: 'BAD_REQUEST' },
  { name: 'trailing garbage after the JSON', send: () => put(`${JSON.stringify({ processes: A_B })} {}`), status: 400, code: 'BAD_REQUEST' },
  {
    name: 'invalid UTF-8 inside a JSON string',
    send: () => put(Buffer.concat([Buffer.from('{"processes":[{"id":"a'), Buffer.from([0xff, 0xfe]), Buffer.from(`","command":"sleep","args":["1000"]},${JSON.stringify(B)}]}`)])),
    status: 400,
    code: 'BAD_REQUEST',
  },
  { name: 'invalid UTF-8 (an overlong "/")', send: () => put(Buffer.concat([Buffer.from('{"processes":[{"id":"x'), Buffer.from([0xc0, 0xaf]), Buffer.from('","command":"sleep"}]}')])), status: 400, code: 'BAD_REQUEST' },
  { name: 'UTF-16 body', send: () => put(Buffer.from(JSON.stringify({ processes: A_B }), 'utf16le')), status: 400, code: 'BAD_REQUEST' },
  { name: 'Content-Type text/plain', send: () => put({ processes: A_B }, ['Content-Type: text/plain']), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'Content-Type form-urlencoded', send: () => put(`processes=${encodeURIComponent(JSON.stringify(A_B))}`, ['Content-Type: application/x-www-form-urlencoded']), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'Content-Type multipart/form-data', send: () => put('--x\r\n\r\n{}\r\n--x--', ['Content-Type: multipart/form-data; boundary=x']), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'Content-Type application/json-patch+json', send: () => put('[]', ['Content-Type: application/json-patch+json']), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'no Content-Type', send: () => put({ processes: A_B }, []), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  {
    name: 'a body past the limit, Content-Length declared',
    send: () => put(JSON.stringify({ processes: A_B, pad: big(BODY_LIMIT + 1000) })),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    mayClose: true,
  },
  {
    name: 'a Content-Length past the limit, no body sent',
    send: () => thenSilence(request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', `Content-Length: ${10 * BODY_LIMIT}`] })),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'a body past the limit, chunked without Content-Length',
    send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Transfer-Encoding: chunked'], body: chunked(JSON.stringify({ processes: A_B, pad: big(2 * BODY_LIMIT) }), 4096), length: false }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    mayClose: true,
  },
  {
    name: 'a process with a 1 MB env value',
    send: () => put({ processes: [{ ...A, env: { HUGE: big(1024 * 1024) } }, B] }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    mayClose: true,
  },
  {
    name: 'Expect: 100-continue with a Content-Length past the limit',
    send: () => thenSilence(request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Expect: 100-continue', `Content-Length: ${100 * BODY_LIMIT}`] })),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  { name: 'an unknown Expect', send: () => put({ processes: A_B }, ['Content-Type: application/json', 'Expect: 200-ok']), status: 417, code: 'EXPECTATION_FAILED' },
  // Nesting: 100 000 levels do not fit in the body limit (413); what fits is refused by the nesting limit (400).
  { name: '100 000-deep [[[…]]] in processes', send: () => put(`{"processes":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), status: [400, 413], mayClose: true },
  { name: '100 000-deep {"a":{"a":…}} in processes', send: () => put(`{"processes":[${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}]}`), status: [400, 413], mayClose: true },
  { name: '30 000-deep [[[…]]] within the body limit', send: () => put(`{"processes":${'['.repeat(30_000)}${']'.repeat(30_000)}}`), status: 400, code: 'BAD_REQUEST' },
  { name: '10 000-deep {"a":…} within the body limit', send: () => put(`{"processes":[${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}]}`), status: 400, code: 'BAD_REQUEST' },
  { name: '30 000 unclosed [ within the body limit', send: () => put(`{"processes":${'['.repeat(30_000)}`), status: 400, code: 'BAD_REQUEST' },
  { name: '10 000 entries of []', send: () => put(`{"processes":[${Array(10_000).fill('[]').join(',')}]}`), status: 422, code: 'INVALID_CONFIG' },
  { name: 'an id of 10 000 characters', send: () => put({ processes: [A, B, { ...A, id: big(10_000) }] }), status: 422, code: 'INVALID_CONFIG' },
  { name: 'an id with a newline', send: () => put({ processes: [A, B, { ...A, id: 'c\nd' }] }), status: 422, code: 'INVALID_CONFIG' },
  { name: 'an id with a lone surrogate', send: () => put(`{"processes":[${JSON.stringify(A)},${JSON.stringify(B)},{"id":"c\\ud800","command":"sleep"}]}`), status: 400, code: 'BAD_REQUEST' },
  { name: 'an env name with a lone surrogate', send: () => put(`{"processes":[{"id":"a","command":"sleep","args":["1000"],"env":{"X\\udfff":"1"}},${JSON.stringify(B)}]}`), status: 400, code: 'BAD_REQUEST' },
];

const PROTO_CASES: Case[] = [
  { name: '__proto__ holding the envelope', send: () => put(`{"__proto__":{"processes":[]}}`), status: 400, code: 'BAD_REQUEST' },
  { name: '__proto__ beside processes', send: () => put(`{"processes":${JSON.stringify(A_B)},"__proto__":{"processes":[],"polluted":true}}`), status: 400, code: 'BAD_REQUEST' },
  { name: 'constructor.prototype beside processes', send: () => put(`{"processes":${JSON.stringify(A_B)},"constructor":{"prototype":{"polluted":true}}}`), status: 400, code: 'BAD_REQUEST' },
  { name: '__proto__ in a process entry', send: () => put(`{"processes":[{"id":"a","command":"sleep","args":["1000"],"__proto__":{"command":"touch","polluted":true}},${JSON.stringify(B)}]}`), status: 400, code: 'BAD_REQUEST' },
  { name: '__proto__ spelled with escapes', send: () => put(`{"processes":${JSON.stringify(A_B)},"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":true}}`), status: 400, code: 'BAD_REQUEST' },
  { name: 'constructor.prototype in a process entry', send: () => put(`{"processes":[{"id":"a","command":"sleep","args":["1000"],"constructor":{"prototype":{"polluted":true}}},${JSON.stringify(B)}]}`), status: 422, code: 'INVALID_CONFIG' },
  { name: '__proto__ in env, an object for a value', send: () => put(`{"processes":[{"id":"a","command":"sleep","args":["1000"],"env":{"__proto__":{"polluted":"yes"}}},${JSON.stringify(B)}]}`), status: 400, code: 'BAD_REQUEST' },
  { name: '__proto__ in env, a string for a value', send: () => put(`{"processes":[{"id":"a","command":"sleep","args":["1000"],"env":{"__proto__":"x"}},${JSON.stringify(B)}]}`), status: 400, code: 'BAD_REQUEST' },
  { name: '__proto__ in a probe', send: () => put(`{"processes":[{"id":"a","command":"sleep","args":["1000"],"probes":{"__proto__":{"polluted":true}}},${JSON.stringify(B)}]}`), status: 400, code: 'BAD_REQUEST' },
  { name: 'an unknown key beside processes', send: () => put({ processes: A_B, dryRun: true }), status: 400, code: 'BAD_REQUEST' },
];

const PATH_CASES: Case[] = [
  { name: 'encoded traversal ..%2F..%2Fetc%2Fpasswd', send: () => request('GET', '/v1/processes/..%2F..%2Fetc%2Fpasswd'), status: 404, code: 'NOT_FOUND' },
  { name: 'encoded traversal in the logs route', send: () => request('GET', '/v1/processes/..%2F..%2F..%2Fetc%2Fshadow/logs'), status: 404, code: 'NOT_FOUND' },
  { name: 'traversal %2e%2e', send: () => request('GET', '/v1/processes/%2e%2e'), status: 404, code: 'NOT_FOUND' },
  { name: 'traversal %2e%2e/%2e%2e/healthz', send: () => request('GET', '/v1/processes/%2e%2e/%2e%2e/healthz'), status: 404, code: 'NOT_FOUND' },
  { name: 'raw traversal /v1/processes/../../healthz', send: () => request('GET', '/v1/processes/../../healthz'), status: 404, code: 'NOT_FOUND' },
  { name: 'double-encoded traversal %252e%252e%252f', send: () => request('GET', '/v1/processes/%252e%252e%252fetc'), status: 404, code: 'NOT_FOUND' },
  { name: 'NUL in an id (%00)', send: () => request('GET', '/v1/processes/a%00'), status: 404, code: 'NOT_FOUND' },
  { name: 'NUL in an action (restart%00)', send: () => request('POST', '/v1/processes/a/restart%00'), status: 404, code: 'NOT_FOUND' },
  { name: 'bad percent-encoding %zz', send: () => request('GET', '/v1/processes/%zz'), status: 400, code: 'BAD_REQUEST' },
  { name: 'a truncated percent-encoding (%E2%82)', send: () => request('GET', '/v1/processes/%E2%82'), status: 400, code: 'BAD_REQUEST' },
  { name: 'a lone surrogate, percent-encoded (%ED%A0%80)', send: () => request('GET', '/v1/processes/%ED%A0%80'), status: 400, code: 'BAD_REQUEST' },
  { name: 'a unicode id, percent-encoded', send: () => request('GET', `/v1/processes/${encodeURIComponent('ünï💥')}`), status: 404, code: 'NOT_FOUND' },
  { name: 'a 10 000-character id', send: () => request('GET', `/v1/processes/${big(10_000)}`), status: 404, code: 'NOT_FOUND' },
  { name: 'a 10 000-character id, restarted', send: () => request('POST', `/v1/processes/${big(10_000)}/restart`), status: 404, code: 'NOT_FOUND' },
  { name: 'double slash //v1/processes', send: () => request('GET', '//v1/processes'), status: 404, code: 'NOT_FOUND' },
  { name: 'double slash /v1//processes', send: () => request('GET', '/v1//processes'), status: 404, code: 'NOT_FOUND' },
  { name: 'empty id /v1/processes//logs', send: () => request('GET', '/v1/processes//logs'), status: 404, code: 'NOT_FOUND' },
  { name: 'an unknown action', send: () => request('POST', '/v1/processes/a/kill'), status: 404, code: 'NOT_FOUND' },
  { name: 'restart of an unknown id', send: () => request('POST', '/v1/processes/nope/restart'), status: 404, code: 'NOT_FOUND' },
  { name: 'id __proto__', send: () => request('GET', '/v1/processes/__proto__'), status: 404, code: 'NOT_FOUND' },
  { name: 'id constructor, logs', send: () => request('GET', '/v1/processes/constructor/logs'), status: 404, code: 'NOT_FOUND' },
  { name: 'id hasOwnProperty, restarted', send: () => request('POST', '/v1/processes/hasOwnProperty/restart'), status: 404, code: 'NOT_FOUND' },
  {
    name: 'CRLF in an id (response splitting)',
    send: () => request('GET', '/v1/processes/a%0D%0AX-Injected:%201%0D%0A%0D%0A'),
    status: 404,
    code: 'NOT_FOUND',
    check: (r) => expect([...r.headers.keys()]).not.toContain('x-injected'),
  },
  { name: 'a backslash path /v1\\processes', send: () => request('GET', '/v1%5Cprocesses'), status: 404, code: 'NOT_FOUND' },
  { name: 'a 100 KB URL', send: () => request('GET', `/v1/processes/${big(100_000)}`), status: 431, code: 'HEADERS_TOO_LARGE', mayClose: true },
  { name: 'a query of 10 000 parameters', send: () => request('GET', `/v1/processes/a/logs?${'t&'.repeat(10_000)}tail=1`), status: 431, code: 'HEADERS_TOO_LARGE', mayClose: true },
  { name: 'a query of 7 000 empty parameters and a bad tail', send: () => request('GET', `/v1/processes/a/logs?${'&'.repeat(7_000)}tail=-1`), status: 400, code: 'BAD_REQUEST' },
  { name: 'tail negative', send: () => request('GET', '/v1/processes/a/logs?tail=-1'), status: 400, code: 'BAD_REQUEST' },
  { name: 'tail huge', send: () => request('GET', `/v1/processes/a/logs?tail=${'9'.repeat(400)}`), status: 400, code: 'BAD_REQUEST' },
  { name: 'tail 1e9', send: () => request('GET', '/v1/processes/a/logs?tail=1e9'), status: 400, code: 'BAD_REQUEST' },
  { name: 'tail in hex', send: () => request('GET', '/v1/processes/a/logs?tail=0x10'), status: 400, code: 'BAD_REQUEST' },
  { name: 'tail empty', send: () => request('GET', '/v1/processes/a/logs?tail='), status: 400, code: 'BAD_REQUEST' },
  { name: 'follow=maybe', send: () => request('GET', '/v1/processes/a/logs?follow=maybe'), status: 400, code: 'BAD_REQUEST' },
  { name: 'bad percent-encoding in the query', send: () => request('GET', '/v1/processes/a/logs?tail=%zz'), status: 400, code: 'BAD_REQUEST' },
];

const METHOD_CASES: Case[] = [
  { name: 'TRACE', send: () => request('TRACE', '/v1/processes'), status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'OPTIONS (a CORS preflight)', send: () => request('OPTIONS', '/v1/processes', { auth: false, headers: ['Origin: http://evil.example', 'Access-Control-Request-Method: PUT'] }), status: 403, code: 'ORIGIN_NOT_ALLOWED' },
  { name: 'OPTIONS', send: () => request('OPTIONS', '/v1/processes'), status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'DELETE', send: () => request('DELETE', '/v1/processes/a'), status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'DELETE of the whole set', send: () => request('DELETE', '/v1/processes'), status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'PATCH', send: () => request('PATCH', '/v1/processes', { headers: ['Content-Type: application/json'], body: '{}' }), status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'POST on the set', send: () => request('POST', '/v1/processes', { headers: ['Content-Type: application/json'], body: JSON.stringify({ processes: A_B }) }), status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'GET on an action', send: () => request('GET', '/v1/processes/a/restart'), status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'HEAD', send: () => request('HEAD', '/v1/processes'), status: 405, head: true },
  { name: 'PROPFIND (WebDAV)', send: () => request('PROPFIND', '/v1/processes'), status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'CONNECT', send: () => request('CONNECT', 'evil.example:443'), status: [400, 405], mayClose: true },
  { name: 'a 10 000-character method', send: () => request('A'.repeat(10_000), '/v1/processes'), status: 400, code: 'BAD_REQUEST' },
  { name: 'an invented method', send: () => request('FROB', '/v1/processes'), status: 400, code: 'BAD_REQUEST' },
  { name: 'a lower-case method', send: () => request('get', '/v1/processes'), status: 400, code: 'BAD_REQUEST' },
  { name: 'absolute-form target', send: () => request('GET', 'http://evil.example/v1/processes'), status: 404, code: 'NOT_FOUND' },
  { name: 'absolute-form target naming us', send: () => request('GET', `http://127.0.0.1:${port}/v1/processes`), status: 404, code: 'NOT_FOUND' },
  { name: 'asterisk-form target', send: () => request('GET', '*'), status: 404, code: 'NOT_FOUND' },
  { name: 'a WebSocket upgrade without a token', send: () => request('GET', '/v1/processes/a/logs?follow=1', { auth: false, headers: ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='] }), status: 401, code: 'UNAUTHORIZED', mayClose: true },
];

const AUTH_CASES: Case[] = [
  { name: 'no token', send: () => request('GET', '/v1/processes', { auth: false }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'no token on a change', send: () => request('PUT', '/v1/processes', { auth: false, headers: ['Content-Type: application/json'], body: JSON.stringify({ processes: [] }) }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'no token on a restart', send: () => request('POST', '/v1/processes/a/restart', { auth: false }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'a wrong token', send: () => request('GET', '/v1/processes', { auth: false, headers: ['Authorization: Bearer not-the-token'] }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'the token with a suffix', send: () => request('GET', '/v1/processes', { auth: false, headers: [`Authorization: Bearer ${token}x`] }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'a token prefix', send: () => request('GET', '/v1/processes', { auth: false, headers: [`Authorization: Bearer ${token.slice(0, -1)}`] }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'Bearer without a token', send: () => request('GET', '/v1/processes', { auth: false, headers: ['Authorization: Bearer'] }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'the token as Basic credentials', send: () => request('GET', '/v1/processes', { auth: false, headers: [`Authorization: Basic ${Buffer.from(`procmgr:${token}`).toString('base64')}`] }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'the token without a scheme', send: () => request('GET', '/v1/processes', { auth: false, headers: [`Authorization: ${token}`] }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'the token twice in one header', send: () => request('GET', '/v1/processes', { auth: false, headers: [`Authorization: Bearer ${token} ${token}`] }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'a wrong token, then the right one', send: () => request('GET', '/v1/processes', { auth: false, headers: ['Authorization: Bearer wrong', `Authorization: Bearer ${token}`] }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'an 8 KB token', send: () => request('GET', '/v1/processes', { auth: false, headers: [`Authorization: Bearer ${big(8_000)}`] }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'the token in the query', send: () => request('GET', `/v1/processes?token=${token}&access_token=${token}`, { auth: false }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'the token in a cookie', send: () => request('GET', '/v1/processes', { auth: false, headers: [`Cookie: token=${token}`] }), status: 401, code: 'UNAUTHORIZED' },
  { name: '2 100 tiny headers, then the token', send: () => request('GET', '/v1/processes', { auth: false, headers: [...Array<string>(2_100).fill('a:1'), `Authorization: Bearer ${token}`] }), status: 431, code: 'HEADERS_TOO_LARGE' },
  { name: 'a token with non-ASCII bytes', send: () => request('GET', '/v1/processes', { auth: false, headers: [`Authorization: Bearer ${token}\u00e9\u00ff`] }), status: 401, code: 'UNAUTHORIZED' },
  { name: 'a foreign Host', send: () => request('GET', '/v1/processes', { host: false, headers: ['Host: attacker.example'] }), status: 403, code: 'HOST_NOT_ALLOWED' },
  { name: 'a foreign Host on an open route', send: () => request('GET', '/healthz', { host: false, auth: false, headers: ['Host: attacker.example'] }), status: 403, code: 'HOST_NOT_ALLOWED' },
  { name: 'a foreign Host with our address as userinfo', send: () => request('GET', '/v1/processes', { host: false, headers: ['Host: 127.0.0.1@attacker.example'] }), status: 403, code: 'HOST_NOT_ALLOWED' },
  { name: 'a foreign Host resolving to loopback (rebinding)', send: () => request('GET', '/v1/processes', { host: false, headers: ['Host: 127.0.0.1.nip.io'] }), status: 403, code: 'HOST_NOT_ALLOWED' },
  { name: 'a foreign Host first, ours second', send: () => request('GET', '/v1/processes', { host: false, headers: ['Host: attacker.example', `Host: 127.0.0.1:${port}`] }), status: [400, 403] },
  { name: 'a malformed Host', send: () => request('GET', '/v1/processes', { host: false, headers: ['Host: [::1'] }), status: [400, 403] },
  { name: 'Host localhost. (a trailing dot)', send: () => request('GET', '/v1/processes', { host: false, headers: ['Host: localhost.'] }), status: 403, code: 'HOST_NOT_ALLOWED' },
  { name: 'a Host with a port past 65535', send: () => request('GET', '/v1/processes', { host: false, headers: ['Host: 127.0.0.1:99999999'] }), status: 403, code: 'HOST_NOT_ALLOWED' },
  { name: 'no Host at all', send: () => request('GET', '/v1/processes', { host: false }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a foreign Origin', send: () => request('GET', '/v1/processes', { headers: ['Origin: http://evil.example'] }), status: 403, code: 'ORIGIN_NOT_ALLOWED' },
  { name: 'a foreign Origin on a change', send: () => put({ processes: [] }, ['Content-Type: application/json', 'Origin: http://evil.example']), status: 403, code: 'ORIGIN_NOT_ALLOWED' },
  { name: 'Origin null', send: () => put({ processes: [] }, ['Content-Type: application/json', 'Origin: null']), status: 403, code: 'ORIGIN_NOT_ALLOWED' },
  { name: 'an Origin on our host but another scheme', send: () => request('GET', '/v1/processes', { headers: [`Origin: file://127.0.0.1:${port}`] }), status: 403, code: 'ORIGIN_NOT_ALLOWED' },
  { name: 'a cross-site Sec-Fetch-Site on a change', send: () => put({ processes: [] }, ['Content-Type: application/json', 'Sec-Fetch-Site: cross-site']), status: 403, code: 'ORIGIN_NOT_ALLOWED' },
];

const HTTP_CASES: Case[] = [
  { name: 'a huge header (20 KB)', send: () => request('GET', '/v1/processes', { headers: [`X-Big: ${big(20_000)}`] }), status: 431, code: 'HEADERS_TOO_LARGE', mayClose: true },
  { name: 'many headers (3 000, past the header size)', send: () => request('GET', '/v1/processes', { headers: Array.from({ length: 3_000 }, (_, i) => `X-Header-${i}: ${i}`) }), status: 431, code: 'HEADERS_TOO_LARGE', mayClose: true },
  { name: 'a NUL in a header value', send: () => request('GET', '/v1/processes', { headers: ['X-Bad: a\u0000b'] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a CR in a header value', send: () => request('GET', '/v1/processes', { headers: ['X-Bad: a\rb'] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a space in a header name', send: () => request('GET', '/v1/processes', { headers: ['X Bad: 1'] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a space before the colon', send: () => request('GET', '/v1/processes', { headers: ['X-Bad : 1'] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a non-ASCII header name', send: () => request('GET', '/v1/processes', { headers: ['X-Bäd: 1'] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a header without a colon', send: () => request('GET', '/v1/processes', { headers: ['X-Bad'] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'an obsolete folded header', send: () => request('GET', '/v1/processes', { headers: ['X-Fold: a', ' b'] }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a space in the target', send: () => request('GET', '/v1/pro cesses'), status: 400, code: 'BAD_REQUEST' },
  { name: 'a NUL in the target', send: () => request('GET', '/v1/processes\u0000'), status: 400, code: 'BAD_REQUEST' },
  { name: 'Content-Length and Transfer-Encoding (smuggling)', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Content-Length: 4', 'Transfer-Encoding: chunked'], body: `0\r\n\r\nGET /v1/processes/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, length: false }), status: 400, code: 'BAD_REQUEST' },
  { name: 'Transfer-Encoding then Content-Length (smuggling)', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Transfer-Encoding: chunked', 'Content-Length: 4'], body: `0\r\n\r\n`, length: false }), status: 400, code: 'BAD_REQUEST' },
  { name: 'an obfuscated Transfer-Encoding (xchunked)', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Transfer-Encoding: xchunked'], body: '2\r\n{}\r\n0\r\n\r\n', length: false }), status: 400, code: 'BAD_REQUEST' },
  { name: 'Transfer-Encoding chunked, identity', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Transfer-Encoding: chunked, identity'], body: '2\r\n{}\r\n0\r\n\r\n', length: false }), status: 400, code: 'BAD_REQUEST' },
  { name: 'duplicate Content-Length, different values', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Content-Length: 2', 'Content-Length: 30'], body: '{}', length: false }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a comma-list Content-Length', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Content-Length: 2, 30'], body: '{}', length: false }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a negative Content-Length', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Content-Length: -1'], body: '{}', length: false }), status: 400, code: 'BAD_REQUEST' },
  { name: 'a Content-Length past 2^64', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Content-Length: 99999999999999999999999'], body: '{}', length: false }), status: [400, 413], mayClose: true },
  { name: 'a bad chunk size', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Transfer-Encoding: chunked'], body: 'zz\r\n{}\r\n0\r\n\r\n', length: false }), status: 400, code: 'BAD_REQUEST', mayClose: true },
  { name: 'a chunk size past 2^64', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Transfer-Encoding: chunked'], body: 'fffffffffffffffffffff\r\n{}\r\n0\r\n\r\n', length: false }), status: [400, 413], mayClose: true },
  { name: 'a 20 KB chunk extension', send: () => request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Transfer-Encoding: chunked'], body: `2;x=${big(20_000)}\r\n{}\r\n0\r\n\r\n`, length: false }), status: [400, 413], mayClose: true },
  { name: 'an HTTP/0.9 request line', send: () => 'GET /v1/processes\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
  { name: 'HTTP/2.0 in the request line, no token', send: () => `GET /v1/processes HTTP/2.0\r\nHost: 127.0.0.1:${port}\r\n\r\n`, status: 401, code: 'UNAUTHORIZED' },
  { name: 'HTTP/1.7 in the request line', send: () => `GET /v1/processes HTTP/1.7\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\n\r\n`, status: 400, code: 'BAD_REQUEST' },
  { name: 'an HTTP/2 preface', send: () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: 400, code: 'BAD_REQUEST', mayClose: true },
  { name: 'a TLS ClientHello', send: () => Buffer.from('16030100a5010000a10303' + '00'.repeat(32) + '000213010100', 'hex'), status: 400, code: 'BAD_REQUEST', mayClose: true },
  { name: 'binary garbage', send: () => Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919) % 256)), status: 400, code: 'BAD_REQUEST', mayClose: true },
  { name: 'a bare line of text', send: () => 'hello\r\n\r\n', status: 400, code: 'BAD_REQUEST' },
  { name: 'bare LF line ends', send: () => `GET /v1/processes/nope HTTP/1.1\nHost: 127.0.0.1:${port}\nAuthorization: Bearer ${token}\n\n`, status: [400, 404], code: ['BAD_REQUEST', 'NOT_FOUND'] },
];

describe('the daemon refuses a corpus of bad requests over raw TCP', () => {
  it('answers a valid request over the raw socket (the harness works)', async () => {
    const x = await exchange(request('GET', '/v1/processes'));
    expect(x.responses[0]?.status).toBe(200);
    expect((json(x.responses[0])['processes'] as ProcessInfo[]).map((p) => p.id)).toEqual(['a', 'b']);
  });

  describe.each([
    ['bodies', BODY_CASES],
    ['prototype pollution', PROTO_CASES],
    ['paths and queries', PATH_CASES],
    ['methods and targets', METHOD_CASES],
    ['auth, Host and Origin', AUTH_CASES],
    ['HTTP framing', HTTP_CASES],
  ] as const)('%s', (_, cases) => {
    it.each(cases)('$name', async (c) => {
      expectRefused(await exchange(c.send(), { head: c.head ?? false }), c);
    });
  });

  // Each waits for the 1 s request timeout; they run side by side to keep the file short.
  describe.concurrent('slow clients are cut after the request timeout', () => {
    const slow: Case[] = [
      { name: 'a Content-Length larger than what is sent, then silence', send: () => thenSilence(request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Content-Length: 100'], body: '{"processes":', length: false })), status: 408, code: 'REQUEST_TIMEOUT', mayClose: true },
      { name: 'a chunked body that never ends', send: () => thenSilence(request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Transfer-Encoding: chunked'], body: '2\r\n{"\r\n', length: false })), status: 408, code: 'REQUEST_TIMEOUT', mayClose: true },
      { name: 'headers that never finish', send: () => thenSilence(`GET /v1/processes HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `), status: 408, code: 'REQUEST_TIMEOUT', mayClose: true },
      { name: 'a request line that never finishes', send: () => thenSilence('GET /v1/proc'), status: 408, code: 'REQUEST_TIMEOUT', mayClose: true },
      { name: 'headers trickled a byte at a time (slowloris)', send: () => slowly(`GET /v1/processes HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`, 'X-a: b\r\n', 100), status: 408, code: 'REQUEST_TIMEOUT', mayClose: true },
      { name: 'a body trickled a byte at a time', send: () => slowly(request('PUT', '/v1/processes', { headers: ['Content-Type: application/json', 'Content-Length: 1000'] }).toString('latin1'), ' ', 100), status: 408, code: 'REQUEST_TIMEOUT', mayClose: true },
      { name: 'a connection that sends nothing', send: () => () => Promise.resolve(), status: 408, code: 'REQUEST_TIMEOUT', mayClose: true },
    ];
    it.each(slow)('$name', async (c) => {
      expectRefused(await exchange(c.send()), c);
    });
  });

  it('answers pipelined requests in order, bad ones in the middle with their 4xx', async () => {
    const x = await exchange(
      Buffer.concat([
        request('GET', '/healthz'),
        put('{"processes": [,]}'),
        request('GET', '/v1/processes/nope'),
        // Its body is never read (415 first): the server must skip it, not parse it as a request.
        put(request('GET', '/v1/processes/smuggled'), ['Content-Type: text/plain']),
        request('TRACE', '/v1/processes'),
        request('GET', '/v1/processes', { auth: false }),
        request('GET', '/v1/processes'),
      ]),
      { responses: 7 },
    );
    expect(x.responses.map((r) => r.status)).toEqual([200, 400, 404, 415, 405, 401, 200]);
    for (const r of x.responses.slice(1, -1)) expectJsonError(r, { status: r.status });
    expect(json(x.responses[2])['code']).toBe('NOT_FOUND');
    expect((json(x.responses[6])['processes'] as ProcessInfo[]).map((p) => p.id)).toEqual(['a', 'b']);
  });

  it('answers pipelined requests up to a malformed one, then closes', async () => {
    const x = await exchange(Buffer.concat([request('GET', '/healthz'), Buffer.from('hello\r\n\r\n'), request('GET', '/healthz')]), { responses: 3 });
    expect(x.responses[0]?.status).toBe(200);
    // Once a response went out on the connection, the server cuts it rather than answer the malformed request.
    expectRefused({ ...x, responses: x.responses.slice(1) }, { status: 400, code: 'BAD_REQUEST', mayClose: true });
    expect(x.responses.length, 'nothing after the malformed request is answered').toBeLessThanOrEqual(2);
    expect(x.closed).toBe(true);
  });

  it('after the pollution attempts, a valid PUT behaves and the list is exactly what was applied', async () => {
    const C = { id: 'c', command: 'sleep', args: ['1002'] };
    const x = await exchange(put({ processes: [...A_B, C] }));
    expect(x.responses[0]?.status, x.responses[0]?.text).toBe(200);
    expect(json(x.responses[0])).toEqual({ created: ['c'], updated: [], removed: [], unchanged: ['a', 'b'] });
    const listed = await processes();
    expect([...listed.keys()]).toEqual(['a', 'b', 'c']);
    for (const p of listed.values()) expect(Object.keys(p)).not.toContain('polluted');
    await restoreAB(['c']);
  });

  it('keeps ids named like Object.prototype members apart', async () => {
    const ids = ['__proto__', 'constructor', 'hasOwnProperty', 'toString'];
    const x = await exchange(put({ processes: [...A_B, ...ids.map((id) => ({ id, command: 'sleep', args: ['1003'] }))] }));
    expect(x.responses[0]?.status, x.responses[0]?.text).toBe(200);
    expect(json(x.responses[0])).toEqual({ created: [...ids].sort(), updated: [], removed: [], unchanged: ['a', 'b'] });
    expect([...(await processes()).keys()].sort()).toEqual(['a', 'b', ...ids].sort());
    for (const id of ids) {
      const one = await exchange(request('GET', `/v1/processes/${encodeURIComponent(id)}`));
      expect(one.responses[0]?.status).toBe(200);
      expect(json(one.responses[0])['id']).toBe(id);
    }
    await restoreAB(ids);
  });

  it('answers 20 concurrent PUTs each with 200 or a 4xx, and ends with one of the sets', async () => {
    const sets = Array.from({ length: 20 }, (_, i) => [...A_B, { id: `c${i}`, command: 'sleep', args: ['1004'] }]);
    const answers = await Promise.all(sets.map((set) => exchange(put({ processes: set }))));
    for (const x of answers) {
      const r = x.responses[0];
      expect(r, 'every PUT is answered').toBeDefined();
      if (r!.status !== 200) expectJsonError(r!, { status: [400, 409, 413, 415, 422, 429] });
    }
    expect(answers.filter((x) => x.responses[0]?.status === 200).length).toBeGreaterThan(0);
    // Removed processes are listed while they stop; the list settles on a, b and one c<i>.
    const ids = await eventually('one set in force', async () => {
      const keys = [...(await processes()).keys()];
      return keys.length === 3 && keys;
    });
    expect(ids.slice(0, 2)).toEqual(['a', 'b']);
    expect(ids[2]).toMatch(/^c\d+$/);
    await restoreAB([ids[2]!]);
  });

  it(`closes connections past maxConnections (${MAX_CONNECTIONS}) and serves again once they are gone`, async () => {
    // 100 idle connections at once: past the cap they are closed at once; the others when their request times out.
    const idle = await Promise.all(Array.from({ length: 100 }, () => exchange(() => Promise.resolve(), { deadlineMs: 15_000 })));
    for (const x of idle) expectRefused(x, { status: 408, code: 'REQUEST_TIMEOUT', mayClose: true });
    expect((await d.json('/healthz')).status).toBe(200);
  });

  it('is alive after the corpus: /healthz is 200 and a and b are untouched', async () => {
    expect(d.child.exitCode).toBeNull();
    expect((await d.json('/healthz')).status).toBe(200);
    const after = await processes();
    expect([...after.keys()]).toEqual(['a', 'b']);
    for (const id of ['a', 'b']) {
      const was = before.get(id)!;
      const now = after.get(id)!;
      expect({ id, state: now.state, pid: now.pid, restarts: now.restarts }).toEqual({ id, state: 'Running', pid: was.pid, restarts: was.restarts });
    }
    // Nothing reached the "unexpected error" path (a 500 in waiting), and nothing crashed.
    const errors = d.logs.filter((l) => typeof l['level'] === 'number' && l['level'] >= 50);
    expect(errors).toEqual([]);
  });
});
