import type { RequestOptions } from 'node:http';
import { HTTP_FIELD_VALUE, HTTP_TARGET, HTTP_TOKEN } from '../../config/index.js';
import { loadHttps } from '../../util/builtins.js';
import { describe } from '../../util/index.js';
import { plainHttpCheck } from './plain-http-check.js';
import { settleOnce } from './settle-once.js';
import type { ProbeCheck, ProbeResult } from './types.js';

/** The `http` part of a parsed probe spec. */
export interface HttpProbeOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly scheme: 'http' | 'https';
  readonly headers: Readonly<Record<string, string>>;
}

// Node's own default, stated so the bound does not move with a Node upgrade: a server that sends
// more header bytes is broken, not healthy.
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Why the request cannot be sent, or undefined. A parsed spec has passed the same checks in the
 * config schema; a spec built by hand has not, and a CR or LF would end the header block early.
 */
function invalidRequest(opts: Pick<HttpProbeOptions, 'path' | 'headers'>): string | undefined {
  for (const [name, value] of Object.entries(opts.headers)) {
    if (!HTTP_TOKEN.test(name)) return `invalid header name ${JSON.stringify(name)}`;
    if (!HTTP_FIELD_VALUE.test(value)) return `invalid value of header ${name}: ${JSON.stringify(value)}`;
  }
  if (!HTTP_TARGET.test(opts.path)) return `invalid request path ${JSON.stringify(opts.path)}`;
  return undefined;
}

/** The request's headers: the configured ones over the defaults, whatever their case. */
function requestHeaders(configured: Readonly<Record<string, string>>): Record<string, string> {
  const headers: Record<string, string> = {};
  const names = new Set(Object.keys(configured).map((n) => n.toLowerCase()));
  if (!names.has('user-agent')) headers['User-Agent'] = 'procmgr-probe';
  // The connection is closed after every check whatever the header says; node:http tells the
  // server so (`Connection: close`) when the header is left to it.
  for (const [name, value] of Object.entries(configured)) if (name.toLowerCase() !== 'connection') headers[name] = value;
  return headers;
}

/**
 * An HTTP GET check, built by `createCheck`. 200 ≤ status < 400 passes (the kubelet's rule);
 * redirects are not followed. Every check opens a connection of its own (no keep-alive: a
 * listener that stopped accepting must fail) and closes it once the status line and headers are
 * in: the body is never read, so an endpoint that streams or stalls its body has still answered.
 * Plain `http` goes over a bare socket (plain-http-check.ts, which says why). HTTPS stays on
 * node:https, where TLS dwarfs the HTTP parsing, and does not verify the certificate, as the
 * kubelet does not: the probe asks "is it up", not "is it genuine".
 */
export function httpCheck(opts: HttpProbeOptions): ProbeCheck {
  const hostInUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `${opts.scheme}://${hostInUrl}:${opts.port}${opts.path}`;
  return opts.scheme === 'http' ? plainHttpCheck(opts, url) : httpsCheck(opts, url);
}

function httpsCheck(opts: HttpProbeOptions, url: string): ProbeCheck {
  const invalid = invalidRequest(opts);
  if (invalid !== undefined) {
    const result: ProbeResult = { ok: false, message: `${invalid} (${url})` };
    return (signal) => {
      signal.throwIfAborted();
      return Promise.resolve(result);
    };
  }
  const options: RequestOptions & { rejectUnauthorized: boolean } = {
    method: 'GET',
    host: opts.host,
    port: opts.port,
    path: opts.path,
    headers: requestHeaders(opts.headers),
    agent: false,
    maxHeaderSize: MAX_HEADER_BYTES,
    rejectUnauthorized: false,
  };
  const https = loadHttps();
  return (signal) =>
    new Promise<ProbeResult>((resolve, reject) => {
      signal.throwIfAborted();
      const req = https.request(options);
      const finish = settleOnce(signal, req, reject);
      req.on('error', (err) => finish(() => resolve({ ok: false, message: `${describe(err)} (${url})` })));
      const answer = (status: number): void => finish(() => resolve({ ok: status >= 200 && status < 400, message: `HTTP ${status} from ${url}` }));
      req.on('response', (res) => answer(res.statusCode ?? 0));
      // 1xx answers (Continue, Early Hints) come as 'information' and the final one follows. A
      // 101 it did not ask for is the answer (a failing one): without this listener node:http
      // drops the socket and reports nothing.
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        answer(res.statusCode ?? 101);
      });
      // Every other way the exchange can end without an answer has emitted 'error' first.
      req.on('close', () => finish(() => resolve({ ok: false, message: `connection closed without a response (${url})` })));
      req.end();
    });
}
