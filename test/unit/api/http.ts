import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { createApiServer } from '../../../src/api/index.js';
import type { ApiServer, ApiServerOptions } from '../../../src/api/index.js';

/** One raw answer. */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

/** The token `useServers` gives its servers unless a test names another (or `token: undefined`). */
export const TEST_TOKEN = 'test-token';

/**
 * A raw request (the client under test is not used here, so the server is tested on its own).
 * It carries `Authorization: Bearer TEST_TOKEN` unless `auth` is false or the headers name one.
 */
export function send(
  address: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; auth?: boolean },
): Promise<Answer> {
  const target = address.startsWith('/') ? { socketPath: address } : hostPort(address);
  const headers = { ...(opts.auth === false ? {} : { Authorization: `Bearer ${TEST_TOKEN}` }), ...opts.headers };
  return new Promise((resolve, reject) => {
    const req = request({ ...target, agent: false, method: opts.method ?? 'GET', path: opts.path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/** JSON PUT of `body` (a value, serialized here) with the right content type. */
export function putJson(address: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return send(address, { method: 'PUT', path: '/v1/processes', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/**
 * Servers and temp dirs of the current test, stopped and removed after it. Call `useServers()`
 * once at the top of a test file.
 */
export function useServers(): { start(opts: ApiServerOptions): Promise<ApiServer>; tempDir(): string } {
  const servers: ApiServer[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    async start(opts) {
      const server = createApiServer({ listen: '127.0.0.1:0', token: TEST_TOKEN, ...opts });
      servers.push(server);
      await server.start();
      return server;
    },
    tempDir() {
      const d = mkdtempSync(join(tmpdir(), 'procmgr-api-'));
      dirs.push(d);
      return d;
    },
  };
}
