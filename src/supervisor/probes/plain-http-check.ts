import net from 'node:net';
import { HTTP_FIELD_VALUE, HTTP_TARGET, HTTP_TOKEN } from '../../config/index.js';
import { describe } from '../../util/index.js';
import type { HttpProbeOptions } from './http-check.js';
import { settleOnce } from './settle-once.js';
import type { ProbeCheck, ProbeResult } from './types.js';

/*
 * The `http` scheme of the HTTP check on a bare TCP socket, kept because it pays for itself: the
 * daemon bench's idle row with 100 HTTP probes costs clearly more CPU per check and more RSS
 * through node:http (a ClientRequest, an IncomingMessage, the llhttp parser and their streams
 * for a dozen bytes of status line). A probe needs little of HTTP: one GET, `Connection: close`,
 * a fresh connection each time (a listener that stopped accepting must fail, so no keep-alive),
 * and the status code. Its contract is pinned by test/unit/supervisor/probes/plain-http.test.ts
 * and the wire tests in test/integration/probes/http.test.ts.
 */

// Node's own limit on response headers; a server sending more is broken, not healthy.
const MAX_HEAD_BYTES = 16 * 1024;

const STATUS_LINE = /^HTTP\/1\.\d (\d{3})(?:[ \t][^\r\n]*)?\r?$/;
// Global so a search can resume where the last chunk ended: a server dripping bytes must not cost O(n²).
const HEAD_END = /\n\r?\n/g;

/**
 * The request bytes, built once per probe since nothing in them changes between checks, or why
 * they cannot be built. A parsed spec has passed the same checks in the config schema; a spec
 * built by hand has not, and a CR or LF would end the header block early.
 */
function buildRequest(opts: Pick<HttpProbeOptions, 'host' | 'port' | 'path' | 'headers'>): Buffer | string {
  const hostInHeader = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  // Header names are case-insensitive: a configured Host or User-Agent replaces the default.
  const fields = new Map<string, [string, string]>([
    ['host', ['Host', opts.port === 80 ? hostInHeader : `${hostInHeader}:${opts.port}`]],
    ['user-agent', ['User-Agent', 'procmgr-probe']],
  ]);
  for (const [name, value] of Object.entries(opts.headers)) {
    if (!HTTP_TOKEN.test(name)) return `invalid header name ${JSON.stringify(name)}`;
    // The socket is closed after every check whatever the header says; the server should know.
    if (name.toLowerCase() === 'connection') continue;
    fields.set(name.toLowerCase(), [name, value]);
  }
  if (!HTTP_TARGET.test(opts.path)) return `invalid request path ${JSON.stringify(opts.path)}`;
  let head = `GET ${opts.path} HTTP/1.1\r\n`;
  for (const [name, value] of fields.values()) {
    if (!HTTP_FIELD_VALUE.test(value)) return `invalid value of header ${name}: ${JSON.stringify(value)}`;
    head += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${head}Connection: close\r\n\r\n`, 'latin1');
}

/** Why a response cannot be used, or the status code of its final (non-1xx) header block. */
type HeadState = { readonly status: number } | { readonly error: string } | undefined;

/**
 * Reads response headers as they arrive (the status line may come in pieces). The body is never
 * read: the status decides, and a health endpoint that streams or stalls its body has answered.
 * Exported for its contract tests; the check below is its only other user.
 */
export class ResponseHead {
  #text = '';

  /** Takes the next bytes; returns the outcome once known, undefined while more are needed. */
  push(chunk: Buffer): HeadState {
    const room = MAX_HEAD_BYTES - this.#text.length;
    // A blank line may straddle the chunk boundary: resume two bytes before it (\n\r + \n).
    let from = Math.max(0, this.#text.length - 2);
    this.#text += chunk.toString('latin1', 0, Math.min(chunk.length, room + 1));
    for (;;) {
      // Fail garbage on its first bytes rather than waiting for a newline it may never send.
      if (!'HTTP/'.startsWith(this.#text.slice(0, 5))) return { error: `not an HTTP response: ${this.#preview()}` };
      HEAD_END.lastIndex = from;
      const end = HEAD_END.exec(this.#text);
      if (end === null) {
        return this.#text.length > MAX_HEAD_BYTES ? { error: `HTTP response headers larger than ${MAX_HEAD_BYTES} bytes` } : undefined;
      }
      const lineEnd = this.#text.indexOf('\n');
      const status = STATUS_LINE.exec(this.#text.slice(0, lineEnd))?.[1];
      if (status === undefined) return { error: `malformed HTTP status line: ${this.#preview()}` };
      const code = Number(status);
      // 1xx (Continue, Early Hints) announce the real answer, which follows; 101 would switch protocols.
      if (code < 100 || code >= 200 || code === 101) return { status: code };
      this.#text = this.#text.slice(end.index + end[0].length);
      from = 0;
      if (this.#text === '') return undefined;
    }
  }

  /** What arrived before the connection closed too early, for the message. */
  closedEarly(): string {
    return this.#text === '' ? 'connection closed before any response' : `connection closed inside the response headers: ${this.#preview()}`;
  }

  #preview(): string {
    const line = (this.#text.split('\n', 1)[0] ?? '').replace(/\r$/, '');
    return JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line);
  }
}

/** The plain-`http` check: see the file comment. Messages match node:http's path (`HTTP 503 from <url>`). */
export function plainHttpCheck(opts: Pick<HttpProbeOptions, 'host' | 'port' | 'path' | 'headers'>, url: string): ProbeCheck {
  const request = buildRequest(opts);
  if (typeof request === 'string') {
    const invalid: ProbeResult = { ok: false, message: `${request} (${url})` };
    return (signal) => {
      signal.throwIfAborted();
      return Promise.resolve(invalid);
    };
  }
  return (signal) =>
    new Promise<ProbeResult>((resolve, reject) => {
      signal.throwIfAborted();
      const head = new ResponseHead();
      const socket = net.connect({ host: opts.host, port: opts.port });
      const finish = settleOnce(signal, socket, reject);
      const fail = (message: string): void => finish(() => resolve({ ok: false, message: `${message} (${url})` }));
      socket.on('error', (err) => fail(describe(err)));
      socket.on('end', () => fail(head.closedEarly()));
      socket.on('data', (chunk: Buffer) => {
        const state = head.push(chunk);
        if (state === undefined) return;
        if ('error' in state) fail(state.error);
        else finish(() => resolve({ ok: state.status >= 200 && state.status < 400, message: `HTTP ${state.status} from ${url}` }));
      });
      // Queued by net until the connection opens: one write, no wait for 'connect'.
      socket.write(request);
    });
}
