import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCheck } from '../../../src/supervisor/probes/index.js';
import { runCheck } from '../../../src/supervisor/probes/run-check.js';
import { realClock } from '../../../src/util/index.js';
import { close, closedPort, listen, ownTarget, spec } from './helpers.js';

const servers: http.Server[] = [];

async function serve(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  return listen(server);
}

/** How many connections to `server` are open right now, as a function to poll. */
function openConnections(server: net.Server | undefined): () => number {
  let open = 0;
  server?.on('connection', (socket: net.Socket) => {
    open++;
    socket.on('close', () => open--);
  });
  return () => open;
}

function httpSpec(port: number, path = '/healthz', headers: Record<string, string> = {}) {
  return spec({ http: { host: '127.0.0.1', port, path, scheme: 'http', headers } });
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map(close));
});

describe('http check against a real server', () => {
  it.each([
    [200, true],
    [204, true],
    [302, true],
    [404, false],
    [503, false],
  ])('HTTP %i → ok %s, without following redirects', async (status, ok) => {
    const paths: string[] = [];
    const port = await serve((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status, { location: '/elsewhere' }).end('body');
    });
    const result = await createCheck(httpSpec(port), ownTarget())(new AbortController().signal);
    expect(result).toEqual({ ok, message: `HTTP ${status} from http://127.0.0.1:${port}/healthz` });
    expect(paths).toEqual(['/healthz']);
  });

  it('sends the configured headers and asks for no keep-alive', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const port = await serve((req, res) => {
      seen = req.headers;
      res.end();
    });
    await createCheck(httpSpec(port, '/', { 'x-probe': 'yes' }), ownTarget())(new AbortController().signal);
    expect(seen).toMatchObject({ 'x-probe': 'yes', connection: 'close' });
  });

  it('drops a large body without reading it all', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 120);
      // Streams forever; the check must not wait for the end.
      const pump = (): void => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      res.on('close', () => res.off('drain', pump));
      pump();
    });
    expect(await createCheck(httpSpec(port), ownTarget())(new AbortController().signal)).toMatchObject({ ok: true });
  });

  it('a refused port is a failed result, not a throw', async () => {
    const port = await closedPort();
    const result = await createCheck(httpSpec(port), ownTarget())(new AbortController().signal);
    expect(result.ok).toBe(false);
    expect(result.message).toContain(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('a server that never answers times out and its connection is closed', async () => {
    const port = await serve(() => undefined);
    const open = openConnections(servers[0]);
    const result = await runCheck(createCheck(httpSpec(port), ownTarget()), {
      clock: realClock,
      timeoutMs: 300,
      abandonAfterMs: 5_000,
      signal: new AbortController().signal,
    });
    expect(result).toEqual({ ok: false, message: 'timed out after 300ms' });
    await expect.poll(open, { timeout: 5_000 }).toBe(0);
  });
});

// Raw TCP servers that speak (or fail to speak) HTTP byte by byte, for what node:http would not send.
const rawServers: net.Server[] = [];
const rawSockets = new Set<net.Socket>();

afterEach(async () => {
  for (const socket of rawSockets) socket.destroy();
  rawSockets.clear();
  await Promise.all(rawServers.splice(0).map(close));
});

/** A server that runs `answer` once the request has arrived, with the request's text. */
async function serveRaw(answer: (socket: net.Socket, request: string) => void, host = '127.0.0.1'): Promise<number> {
  const server = net.createServer((socket) => {
    rawSockets.add(socket);
    socket.on('close', () => rawSockets.delete(socket));
    socket.on('error', () => undefined);
    let request = '';
    socket.on('data', (chunk: Buffer) => {
      const before = request;
      request += chunk.toString('latin1');
      if (!before.includes('\r\n\r\n') && request.includes('\r\n\r\n')) answer(socket, request);
    });
  });
  rawServers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

function check(port: number, headers: Record<string, string> = {}, host = '127.0.0.1') {
  return createCheck(spec({ http: { host, port, path: '/healthz', scheme: 'http', headers } }), ownTarget())(new AbortController().signal);
}

const url = (port: number, host = '127.0.0.1'): string => `http://${host}:${port}/healthz`;

describe('http check on the wire', () => {
  it('sends one GET with Host, User-Agent, the configured headers and Connection: close', async () => {
    let seen = '';
    const port = await serveRaw((socket, request) => {
      seen = request;
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    });
    expect(await check(port, { 'X-Probe': 'yes', connection: 'keep-alive' })).toEqual({ ok: true, message: `HTTP 200 from ${url(port)}` });
    const [requestLine, ...fields] = seen.split('\r\n').filter((l) => l !== '');
    expect(requestLine).toBe('GET /healthz HTTP/1.1');
    // Field order carries no meaning in HTTP; the set of fields does, each sent once.
    expect(fields.sort()).toEqual(['Connection: close', `Host: 127.0.0.1:${port}`, 'User-Agent: procmgr-probe', 'X-Probe: yes']);
    expect(seen.endsWith('\r\n\r\n')).toBe(true);
  });

  it('a configured Host or User-Agent replaces the default, whatever its case', async () => {
    let seen = '';
    const port = await serveRaw((socket, request) => {
      seen = request;
      socket.end('HTTP/1.1 204 No Content\r\n\r\n');
    });
    expect(await check(port, { host: 'app.example', 'USER-AGENT': 'kube-probe/1.33' })).toMatchObject({ ok: true });
    const fields = seen.split('\r\n').slice(1).filter((l) => l !== '');
    expect(fields.sort()).toEqual(['Connection: close', 'USER-AGENT: kube-probe/1.33', 'host: app.example']);
  });

  it('reads a status line and headers that arrive in pieces', async () => {
    const port = await serveRaw((socket) => {
      const parts = ['HTTP/1.', '1 50', '3 Service Unavailable\r', '\nContent-Length: 2\r\n', '\r\nno'];
      const next = (): void => {
        const part = parts.shift();
        if (part === undefined) socket.end();
        else socket.write(part, () => setTimeout(next, 20));
      };
      next();
    });
    expect(await check(port)).toEqual({ ok: false, message: `HTTP 503 from ${url(port)}` });
  });

  it('skips 1xx answers to the final status, and takes a status line without a reason', async () => {
    const port = await serveRaw((socket) => socket.end('HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200\r\n\r\n'));
    expect(await check(port)).toEqual({ ok: true, message: `HTTP 200 from ${url(port)}` });
  });

  it('passes on the status without waiting for a body that never comes', async () => {
    const port = await serveRaw((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial'));
    expect(await check(port)).toEqual({ ok: true, message: `HTTP 200 from ${url(port)}` });
  });

  it.each([
    ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nok!!\r\n0\r\n\r\n', true],
    ['a content length', 'HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy', false],
    ['no length, body until close', 'HTTP/1.1 200 OK\r\n\r\nstill streaming', true],
    ['HTTP/1.0', 'HTTP/1.0 200 OK\r\n\r\n', true],
    ['a 3xx', 'HTTP/1.1 307 Temporary Redirect\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n', true],
  ])('takes the status of a response with %s, whether the body ends or not', async (_what, response, ok) => {
    const port = await serveRaw((socket) => socket.write(response));
    expect(await check(port)).toMatchObject({ ok, message: expect.stringMatching(/^HTTP \d{3} from /) as unknown });
  });

  it('waits for a slow server within the timeout', async () => {
    const port = await serveRaw((socket) => setTimeout(() => socket.end('HTTP/1.1 200 OK\r\n\r\n'), 200));
    const result = await runCheck(createCheck(httpSpec(port), ownTarget()), { clock: realClock, timeoutMs: 5_000, abandonAfterMs: 5_000, signal: new AbortController().signal });
    expect(result).toEqual({ ok: true, message: `HTTP 200 from ${url(port)}` });
  });

  it('a server that stalls inside the headers times out and its connection is closed', async () => {
    const port = await serveRaw((socket) => socket.write('HTTP/1.1 200 OK\r\nX-Slow: '));
    const open = openConnections(rawServers[0]);
    const result = await runCheck(createCheck(httpSpec(port), ownTarget()), { clock: realClock, timeoutMs: 300, abandonAfterMs: 5_000, signal: new AbortController().signal });
    expect(result).toEqual({ ok: false, message: 'timed out after 300ms' });
    await expect.poll(open, { timeout: 5_000 }).toBe(0);
  });

  it('fails a 101 Switching Protocols it never asked for, without hanging', async () => {
    const port = await serveRaw((socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
    const result = await runCheck(createCheck(httpSpec(port), ownTarget()), { clock: realClock, timeoutMs: 5_000, abandonAfterMs: 5_000, signal: new AbortController().signal });
    expect(result.ok).toBe(false);
    expect(result.message).not.toContain('timed out');
  });

  it('fails on an answer that is not HTTP, as soon as it starts', async () => {
    const port = await serveRaw((socket) => socket.write('SSH-2.0-OpenSSH_9.6'));
    expect(await check(port)).toEqual({ ok: false, message: `not an HTTP response: "SSH-2.0-OpenSSH_9.6" (${url(port)})` });
  });

  it('fails on a malformed status line', async () => {
    const port = await serveRaw((socket) => socket.end('HTTP/1.1 OK\r\n\r\n'));
    expect(await check(port)).toEqual({ ok: false, message: `malformed HTTP status line: "HTTP/1.1 OK" (${url(port)})` });
  });

  it('fails when the server closes without answering', async () => {
    const port = await serveRaw((socket) => socket.end());
    expect(await check(port)).toEqual({ ok: false, message: `connection closed before any response (${url(port)})` });
  });

  it('fails when the server closes inside the headers', async () => {
    const port = await serveRaw((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n'));
    expect(await check(port)).toEqual({ ok: false, message: `connection closed inside the response headers: "HTTP/1.1 200 OK" (${url(port)})` });
  });

  it('fails on headers that never end', async () => {
    const port = await serveRaw((socket) => socket.write(`HTTP/1.1 200 OK\r\nX-Pad: ${'a'.repeat(20_000)}`));
    expect(await check(port)).toEqual({ ok: false, message: `HTTP response headers larger than 16384 bytes (${url(port)})` });
  });

  it.each([
    ['on accept', (socket: net.Socket) => socket.destroy()],
    ['with a reset after the request', (socket: net.Socket) => socket.resetAndDestroy()],
  ])('fails when the server drops the connection %s', async (_when, drop) => {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => drop(socket));
      if (_when === 'on accept') drop(socket);
    });
    rawServers.push(server);
    const port = await listen(server);
    const result = await check(port);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(new RegExp(`^(connection closed before any response|read ECONNRESET|write EPIPE|write ECONNRESET) \\(${url(port).replaceAll('.', '\\.')}\\)$`));
  });

  it.each([
    [{ 'x-bad': 'a\r\nInjected: yes' }, 'invalid value of header x-bad: "a\\r\\nInjected: yes"'],
    [{ 'x bad': 'a' }, 'invalid header name "x bad"'],
    [{ 'x-bad\n': 'a' }, 'invalid header name "x-bad\\n"'],
  ])('refuses headers that would break the request (%o) without connecting', async (headers, message) => {
    let connections = 0;
    const port = await serveRaw(() => undefined);
    rawServers[0]?.on('connection', () => connections++);
    expect(await check(port, headers)).toEqual({ ok: false, message: `${message} (${url(port)})` });
    expect(connections).toBe(0);
  });

  it('an abort rejects with its reason and closes the connection', async () => {
    const port = await serveRaw(() => undefined);
    const open = openConnections(rawServers[0]);
    const controller = new AbortController();
    const running = createCheck(httpSpec(port), ownTarget())(controller.signal);
    await expect.poll(open).toBe(1);
    controller.abort(new Error('stopping'));
    await expect(running).rejects.toThrow('stopping');
    await expect.poll(open, { timeout: 5_000 }).toBe(0);
  });

  it('an already aborted signal rejects at once', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await expect(createCheck(httpSpec(await closedPort()), ownTarget())(controller.signal)).rejects.toThrow('stopped');
  });

  it.skipIf(!hasIpv6Loopback())('works over IPv6, bracketing the host in the URL and the Host header', async () => {
    let seen = '';
    const port = await serveRaw((socket, request) => {
      seen = request;
      socket.end('HTTP/1.1 200 OK\r\n\r\n');
    }, '::1');
    expect(await check(port, {}, '::1')).toEqual({ ok: true, message: `HTTP 200 from ${url(port, '[::1]')}` });
    expect(seen).toContain(`\r\nHost: [::1]:${port}\r\n`);
  });
});

function hasIpv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((addrs) => addrs?.some((a) => a.address === '::1'));
}

describe('https check against a real server', () => {
  let dir = '';
  let tls: { key: Buffer; cert: Buffer } | undefined;

  beforeAll(() => {
    // A throwaway self-signed certificate: the check must accept it (it asks "is it up", as the kubelet does).
    dir = mkdtempSync(path.join(tmpdir(), 'procmgr-https-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    tls = { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) };
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function serveTls(status: number): Promise<{ port: number; paths: string[] }> {
    const paths: string[] = [];
    const server = https.createServer(tls ?? {}, (req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status).end('body');
    });
    servers.push(server);
    return { port: await listen(server), paths };
  }

  it('takes the status over TLS without waiting for a body that never ends, and closes the connection', async () => {
    const server = https.createServer(tls ?? {}, (_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    servers.push(server);
    const open = openConnections(server);
    const port = await listen(server);
    const check = createCheck(spec({ http: { host: '127.0.0.1', port, path: '/healthz', scheme: 'https', headers: {} } }), ownTarget());
    expect(await check(new AbortController().signal)).toEqual({ ok: true, message: `HTTP 200 from https://127.0.0.1:${port}/healthz` });
    await expect.poll(open, { timeout: 5_000 }).toBe(0);
  });

  it.each([
    [200, true],
    [503, false],
  ])('HTTP %i over TLS → ok %s, with an unverified self-signed certificate', async (status, ok) => {
    const { port, paths } = await serveTls(status);
    const check = createCheck(spec({ http: { host: '127.0.0.1', port, path: '/healthz', scheme: 'https', headers: {} } }), ownTarget());
    expect(await check(new AbortController().signal)).toEqual({ ok, message: `HTTP ${status} from https://127.0.0.1:${port}/healthz` });
    expect(paths).toEqual(['/healthz']);
  });
});
