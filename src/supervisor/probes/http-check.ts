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

// Like the kubelet, read a little of the body and drop the rest: a health endpoint that streams
// must not keep the check open. (The plain-http path does not read the body at all; see there.)
const MAX_BODY_BYTES = 10 * 1024;

/**
 * An HTTP GET check, built by `createCheck`. 200 ≤ status < 400 passes (the kubelet's rule);
 * redirects are not followed; every check opens a connection of its own and closes it. Plain
 * `http` goes over a bare socket (plain-http-check.ts: node:http cost most of an idle daemon's
 * CPU). HTTPS stays on node:https, where TLS dwarfs the HTTP parsing, and does not verify the
 * certificate, as the kubelet does not: the probe asks "is it up", not "is it genuine".
 */
export function httpCheck(opts: HttpProbeOptions): ProbeCheck {
  const hostInUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `${opts.scheme}://${hostInUrl}:${opts.port}${opts.path}`;
  return opts.scheme === 'http' ? plainHttpCheck(opts, url) : httpsCheck(opts, url);
}

function httpsCheck(opts: HttpProbeOptions, url: string): ProbeCheck {
  const https = loadHttps();
  return (signal) =>
    new Promise<ProbeResult>((resolve, reject) => {
      signal.throwIfAborted();
      const req = https.request({
        method: 'GET',
        host: opts.host,
        port: opts.port,
        path: opts.path,
        headers: { 'user-agent': 'procmgr-probe', ...opts.headers },
        agent: false,
        rejectUnauthorized: false,
      });
      const finish = settleOnce(signal, req, reject);
      req.on('error', (err) => finish(() => resolve({ ok: false, message: `${describe(err)} (${url})` })));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const result = { ok: status >= 200 && status < 400, message: `HTTP ${status} from ${url}` };
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_BODY_BYTES) finish(() => resolve(result));
        });
        res.on('end', () => finish(() => resolve(result)));
        // A reset mid-body still answered with a status; the status is what counts.
        res.on('error', () => finish(() => resolve(result)));
      });
      req.end();
    });
}
