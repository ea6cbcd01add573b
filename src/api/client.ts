import type { IncomingMessage, RequestOptions } from 'node:http';
import type { LogLine, Readiness } from '../supervisor/index.js';
import { http } from '../util/builtins.js';
import type { ApplyResult, ProcessInfo } from './backend.js';
import { ApiError } from './errors.js';
import { codeOf, formatAddress, parseListen } from './listen.js';
import type { ListenAddress } from './listen.js';
import { describe } from '../util/index.js';

/** Options of `createApiClient`. */
export interface ApiClientOptions {
  /** The server's address as `listen` takes it (`host:port`, `[v6]:port`, `unix:/path`, a bare socket path) or `http://host:port`. Default `"127.0.0.1:7070"`. */
  readonly address?: string;
  /** Sent as `Authorization: Bearer <token>` on every call. Default: none. */
  readonly token?: string | undefined;
  /** A call whose connection stays silent this long fails with TIMEOUT (not `followLogs`). Default 30 000 ms. */
  readonly timeoutMs?: number;
}

/** Per-call options; aborting rejects the call with `signal.reason`. */
export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

/** What `/healthz` answered (both 200 and 503 are answers, not errors). */
export interface HealthResponse {
  readonly ok: boolean;
  readonly details: Readonly<Record<string, unknown>>;
}

/**
 * A typed client of the API, for the CLI. Every failure is an `ApiError`: the server's code and
 * status, or UNREACHABLE / TIMEOUT / BAD_RESPONSE with `status` undefined. Uses node:http for TCP
 * and unix sockets alike (fetch cannot reach a unix socket), one connection per call.
 */
export interface ApiClient {
  list(opts?: CallOptions): Promise<ProcessInfo[]>;
  /** Rejects with code NOT_FOUND for an unknown id. */
  get(id: string, opts?: CallOptions): Promise<ProcessInfo>;
  restart(id: string, opts?: CallOptions): Promise<void>;
  stop(id: string, opts?: CallOptions): Promise<void>;
  start(id: string, opts?: CallOptions): Promise<void>;
  /** The buffered lines (the last `tail` of them). */
  logs(id: string, opts?: CallOptions & { readonly tail?: number }): Promise<LogLine[]>;
  /**
   * Calls `onLine` for the buffered lines (the last `tail`), then for each new one. Resolves when
   * the server ends the stream (it stopped); rejects with `signal.reason` when aborted.
   */
  followLogs(id: string, onLine: (line: LogLine) => void, signal?: AbortSignal, opts?: { readonly tail?: number }): Promise<void>;
  /** Replaces the desired set; rejects with code INVALID_CONFIG (`details.problems`) for bad entries. */
  apply(processes: unknown, opts?: CallOptions): Promise<ApplyResult>;
  health(opts?: CallOptions): Promise<HealthResponse>;
  ready(opts?: CallOptions): Promise<Readiness>;
}

interface Call {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
  /** Statuses besides 2xx whose JSON body is an answer (503 of /healthz and /readyz). */
  readonly answers?: readonly number[];
}

/** Builds a client; no I/O until a call. Any caller (the CLI builds one per command). */
export function createApiClient(opts: ApiClientOptions = {}): ApiClient {
  const target = parseListen((opts.address ?? '127.0.0.1:7070').replace(/^http:\/\//, '').replace(/\/$/, ''));
  const shown = target.kind === 'unix' ? `unix:${target.path}` : formatAddress(target);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const base = connectOptions(target, opts.token);

  const open = (call: Call, timed: boolean): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      call.signal?.throwIfAborted();
      const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
      const headers: Record<string, string> = { ...base.headers, Accept: 'application/json' };
      if (payload !== undefined) headers['Content-Type'] = 'application/json';
      const req = http.request({ ...base.options, method: call.method, path: call.path, headers, ...(call.signal ? { signal: call.signal } : {}) });
      req.once('response', resolve);
      // `on`, not `once`: a second error (a timeout after an abort) must not go unhandled.
      req.on('error', (err) => reject(failure(err, call.signal, shown)));
      // The socket's idle timeout, not a timer: it restarts with every byte that arrives, which a
      // Clock deadline could only mimic by re-arming on each chunk. The client is the CLI's, in
      // real time; no test needs its time faked.
      if (timed) req.setTimeout(timeoutMs, () => req.destroy(new ApiError('TIMEOUT', undefined, `procmgr at ${shown} did not answer within ${timeoutMs} ms`)));
      req.end(payload);
    });

  const json = async <T>(call: Call): Promise<T> => {
    const res = await open(call, true);
    const text = await readAll(res, call.signal, shown);
    const status = res.statusCode ?? 0;
    const ok = (status >= 200 && status < 300) || (call.answers ?? []).includes(status);
    if (!ok) throw errorOf(status, text, shown);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError('BAD_RESPONSE', status, `procmgr at ${shown} answered ${call.method} ${call.path} with something other than JSON`);
    }
  };

  const path = (id: string, rest = ''): string => `/v1/processes/${encodeURIComponent(id)}${rest}`;
  const act = (action: string) => async (id: string, o?: CallOptions): Promise<void> => {
    await json({ method: 'POST', path: path(id, `/${action}`), signal: o?.signal });
  };

  return {
    list: async (o) => (await json<{ processes: ProcessInfo[] }>({ method: 'GET', path: '/v1/processes', signal: o?.signal })).processes,
    get: (id, o) => json({ method: 'GET', path: path(id), signal: o?.signal }),
    restart: act('restart'),
    stop: act('stop'),
    start: act('start'),
    logs: async (id, o) => {
      const res = await open({ method: 'GET', path: path(id, `/logs${tailQuery(o?.tail, '?')}`), signal: o?.signal }, true);
      const text = await readAll(res, o?.signal, shown);
      if (res.statusCode !== 200) throw errorOf(res.statusCode ?? 0, text, shown);
      return parseLines(text, shown);
    },
    followLogs: async (id, onLine, signal, o) => {
      const res = await open({ method: 'GET', path: path(id, `/logs?follow=1${tailQuery(o?.tail, '&')}`), signal }, false);
      if (res.statusCode !== 200) throw errorOf(res.statusCode ?? 0, await readAll(res, signal, shown), shown);
      await streamLines(res, onLine, signal, shown);
    },
    apply: (processes, o) => json({ method: 'PUT', path: '/v1/processes', body: { processes }, signal: o?.signal }),
    health: async (o) => {
      const { ok, ...details } = await json<{ ok: boolean } & Record<string, unknown>>({ method: 'GET', path: '/healthz', signal: o?.signal, answers: [503] });
      return { ok, details };
    },
    ready: (o) => json({ method: 'GET', path: '/readyz', signal: o?.signal, answers: [503] }),
  };
}

function connectOptions(target: ListenAddress, token: string | undefined): { options: RequestOptions; headers: Record<string, string> } {
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  // agent: false — one connection per call, so a finished CLI command leaves no keep-alive socket behind.
  if (target.kind === 'unix') return { options: { socketPath: target.path, agent: false }, headers: { ...headers, Host: 'localhost' } };
  return { options: { host: target.host, port: target.port, agent: false }, headers };
}

function tailQuery(tail: number | undefined, sep: string): string {
  return tail === undefined ? '' : `${sep}tail=${tail}`;
}

function failure(err: unknown, signal: AbortSignal | undefined, shown: string): unknown {
  if (signal?.aborted) return signal.reason;
  if (err instanceof ApiError) return err;
  const code = codeOf(err);
  return new ApiError('UNREACHABLE', undefined, `cannot reach procmgr at ${shown}: ${code ?? describe(err)}`, {
    cause: err,
    details: { address: shown, errno: code },
  });
}

function errorOf(status: number, text: string, shown: string): ApiError {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown; details?: unknown };
    if (typeof body.code === 'string' && typeof body.message === 'string') {
      const details = typeof body.details === 'object' && body.details !== null ? (body.details as Record<string, unknown>) : {};
      return new ApiError(body.code, status, body.message, { details });
    }
  } catch {
    // not our JSON: reported below
  }
  return new ApiError('BAD_RESPONSE', status, `procmgr at ${shown} answered HTTP ${status} without an error body`);
}

function readAll(res: IncomingMessage, signal: AbortSignal | undefined, shown: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (text += chunk));
    res.once('end', () => resolve(text));
    res.on('error', (err) => reject(failure(err, signal, shown)));
  });
}

function parseLines(text: string, shown: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => parseLine(l, shown));
}

function parseLine(text: string, shown: string): LogLine {
  try {
    return JSON.parse(text) as LogLine;
  } catch {
    throw new ApiError('BAD_RESPONSE', 200, `procmgr at ${shown} sent a log line that is not JSON`);
  }
}

function streamLines(res: IncomingMessage, onLine: (line: LogLine) => void, signal: AbortSignal | undefined, shown: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let partial = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      try {
        for (const part of parts) if (part !== '') onLine(parseLine(part, shown));
      } catch (err) {
        res.destroy();
        reject(err);
      }
    });
    res.once('end', () => resolve());
    res.on('error', (err) => reject(failure(err, signal, shown)));
    // An abort after the headers destroys the response; 'close' without 'end' is that or a cut connection.
    res.once('close', () => {
      if (!res.complete) reject(failure(new Error('the connection was lost'), signal, shown));
    });
  });
}
