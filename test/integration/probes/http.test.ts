import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
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
    let open = 0;
    const port = await serve(() => undefined);
    servers[0]?.on('connection', (socket) => {
      open++;
      socket.on('close', () => open--);
    });
    const result = await runCheck(createCheck(httpSpec(port), ownTarget()), {
      clock: realClock,
      timeoutMs: 300,
      abandonAfterMs: 5_000,
      signal: new AbortController().signal,
    });
    expect(result).toEqual({ ok: false, message: 'timed out after 300ms' });
    await expect.poll(() => open, { timeout: 5_000 }).toBe(0);
  });
});
