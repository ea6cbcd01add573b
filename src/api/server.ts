import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { chmod, lstat, unlink } from 'node:fs/promises';
import type { Registry } from 'prom-client';
import { http } from '../util/builtins.js';
import { IllegalStateError, describe, realClock, silentLogger } from '../util/index.js';
import type { Clock, Logger } from '../util/index.js';
import type { ApiBackend } from './backend.js';
import { ListenError } from './errors.js';
import { handleRequest } from './handlers.js';
import type { HandlerContext } from './handlers.js';
import { clearStaleSocket, codeOf, formatAddress, parseListen } from './listen.js';
import type { ListenAddress } from './listen.js';
import type { Followers } from './logs-route.js';
import { sendJson } from './routes.js';
import { WarnLimiter } from './warn-limiter.js';

/** Options of `createApiServer`. Only `backend` is required. */
export interface ApiServerOptions {
  readonly backend: ApiBackend;
  /** `"host:port"`, `"[v6]:port"` or `"unix:/path.sock"`; port 0 picks a free port. Default `"127.0.0.1:7070"`. */
  readonly listen?: string;
  /**
   * Bearer token that process data and changes need on TCP (see `authorize`); `setToken` replaces
   * it. Default: none, and then a TCP listener refuses them (403 TOKEN_REQUIRED).
   */
  readonly token?: string | undefined;
  /** Host names besides `localhost` and our addresses that clients may put in `Host` (see `checkBrowser`). Default: none. */
  readonly allowedHosts?: readonly string[];
  /** `/metrics` needs the token like process data. Default false (open, for scrapers). */
  readonly metricsAuth?: boolean;
  /** Largest accepted request body. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /** A request (headers and body) must arrive within this, or it is answered 408 and its connection closed. Default 30 000 ms. */
  readonly requestTimeoutMs?: number;
  /** Most connections open at once; more are closed as they come. Default 1 024. */
  readonly maxConnections?: number;
  /**
   * Served on `/metrics` (from `createMetrics`). Read on every scrape, so `registry` may appear
   * later (the daemon loads its metrics after the first spawn). Default: none, and `/metrics` is 404.
   */
  readonly metrics?: { readonly registry: Registry | undefined } | undefined;
  /** Default: `silentLogger`. */
  readonly logger?: Logger;
  /** Default: `realClock`. */
  readonly clock?: Clock;
  /** File mode of a unix socket: who may connect (and so use the API without a token). Default 0o600. */
  readonly socketMode?: number;
  /** How long `stop()` lets requests in flight finish before cutting their connections. Default 5 000 ms. */
  readonly stopGraceMs?: number;
}

/** A running (or startable) API server. */
export interface ApiServer {
  /** Listens. Throws `ListenError` (code LISTEN_FAILED, naming the address) when it cannot; call once. */
  start(): Promise<void>;
  /**
   * Stops accepting, ends follow streams and idle keep-alive connections, waits up to
   * `stopGraceMs` for requests in flight, and removes the unix socket it created. Idempotent.
   */
  stop(): Promise<void>;
  /** Replaces the token in force (a rotation: the old one stops working with the next request). */
  setToken(token: string | undefined): void;
  /** The bound address after `start`: `"127.0.0.1:40123"`, `"[::1]:40123"` or the socket path. */
  readonly address: string;
  /** The bound TCP port after `start`; undefined for a unix socket. */
  readonly port: number | undefined;
}

/** The routes that answer without a token. */
const OPEN_ROUTES = ['/healthz', '/readyz'];

/** Builds the API server; nothing listens until `start()`. Called by the daemon (and tests). */
export function createApiServer(opts: ApiServerOptions): ApiServer {
  const listen = parseListen(opts.listen ?? '127.0.0.1:7070');
  const logger = opts.logger ?? silentLogger;
  const clock = opts.clock ?? realClock;
  const followers: Followers = new Set();
  const metrics = opts.metrics;
  let token = opts.token;
  const ctx: HandlerContext = {
    backend: opts.backend,
    get registry(): Registry | undefined {
      return metrics?.registry;
    },
    get token(): string | undefined {
      return token;
    },
    listen: {
      transport: listen.kind,
      host: listen.kind === 'tcp' ? listen.host : '',
      allowedHosts: new Set((opts.allowedHosts ?? []).map((h) => h.toLowerCase())),
    },
    metricsAuth: opts.metricsAuth ?? false,
    bodyLimitBytes: opts.bodyLimitBytes ?? 1024 * 1024,
    followers,
    logger,
    refusals: new WarnLimiter({ logger, clock }),
    clock,
  };
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const server = http.createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(requestTimeout, 10_000),
      // How often Node looks for requests past those timeouts (its default is 30 s).
      connectionsCheckingInterval: Math.min(requestTimeout, 1_000),
      // Node would answer a missing Host with an empty 400; handleRequest answers it in JSON.
      requireHostHeader: false,
    },
    (req, res) => {
      handleRequest(ctx, req, res).catch((err: unknown) => logger.error({ err: describe(err) }, 'API request handler failed'));
    },
  );
  server.maxConnections = opts.maxConnections ?? 1024;
  server.on('clientError', answerClientError);
  // An Expect other than 100-continue: Node's own answer is an empty 417.
  server.on('checkExpectation', (_req, res) => {
    sendJson(res, 417, { code: 'EXPECTATION_FAILED', message: 'the Expect header is not supported (only "Expect: 100-continue" is)', details: {} }, { Connection: 'close' });
  });
  let address: string | undefined;
  let port: number | undefined;
  let socketIno: number | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;

  return {
    get address(): string {
      if (address === undefined) throw new IllegalStateError('the API server has not started');
      return address;
    },
    get port(): number | undefined {
      return port;
    },
    setToken(next) {
      token = next;
    },
    async start() {
      if (started) throw new IllegalStateError('the API server was started already');
      started = true;
      const shown = listen.kind === 'unix' ? `unix:${listen.path}` : formatAddress(listen);
      if (listen.kind === 'unix') await clearStaleSocket(listen.path);
      await bind(server, listen, shown);
      const mode = opts.socketMode ?? 0o600;
      if (listen.kind === 'unix') {
        await chmod(listen.path, mode);
        socketIno = (await lstat(listen.path)).ino;
      }
      address = boundAddress(server, listen);
      const a = server.address();
      port = a !== null && typeof a === 'object' ? a.port : undefined;
      // After bind, an 'error' would otherwise be thrown out of the emitter and end the daemon.
      server.on('error', (err) => logger.error({ address, err: describe(err) }, 'API server error'));
      const open = ctx.metricsAuth ? OPEN_ROUTES : [...OPEN_ROUTES, '/metrics'];
      if (listen.kind === 'unix') {
        logger.info({ address, auth: 'unix-socket', socketMode: mode.toString(8).padStart(4, '0'), open: ['*'] }, 'API listening');
      } else if (token === undefined) {
        logger.warn({ address, auth: 'refused', open }, 'API listening without a token: process data and changes are refused (403 TOKEN_REQUIRED)');
      } else {
        logger.info({ address, auth: 'token', open }, 'API listening');
      }
    },
    stop() {
      stopping ??= (async () => {
        if (!server.listening) return;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const end of [...followers]) end();
        server.closeIdleConnections();
        const cut = clock.setTimer(() => server.closeAllConnections(), opts.stopGraceMs ?? 5_000);
        await closed;
        cut.cancel();
        if (listen.kind === 'unix') await removeOwnSocket(listen.path, socketIno);
        logger.info({ address }, 'API stopped');
      })();
      return stopping;
    },
  };
}

/**
 * What Node's parser refused (malformed request, headers too large, a request that did not
 * arrive in time) is answered with the API's JSON error and a closed connection, as long as
 * nothing was written on the connection yet; otherwise the connection is cut.
 */
function answerClientError(err: Error, socket: Duplex): void {
  const code = codeOf(err);
  if (code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { bytesWritten?: number }).bytesWritten !== 0) {
    socket.destroy();
    return;
  }
  const [status, apiCode, message] =
    code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'the request line and headers are larger than the server accepts']
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive in time']
        : [400, 'BAD_REQUEST', `the request is not valid HTTP/1.1 (${code ?? 'parse error'})`];
  const body = `${JSON.stringify({ code: apiCode, message, details: {} })}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function bind(server: Server, listen: ListenAddress, shown: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new ListenError(shown, `${codeOf(err) ?? 'error'}: ${err.message}`, err));
    };
    server.once('error', onError);
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (listen.kind === 'unix') server.listen({ path: listen.path }, onListening);
    else server.listen({ host: listen.host, port: listen.port }, onListening);
  });
}

function boundAddress(server: Server, listen: ListenAddress): string {
  if (listen.kind === 'unix') return listen.path;
  const a = server.address();
  // Always an AddressInfo for a TCP server that is listening; the fallback is only for the types.
  return a !== null && typeof a === 'object' ? formatAddress({ kind: 'tcp', host: a.address, port: a.port }) : formatAddress(listen);
}

// Only the socket this server made: another daemon may have replaced it since.
async function removeOwnSocket(path: string, ino: number | undefined): Promise<void> {
  try {
    if ((await lstat(path)).ino === ino) await unlink(path);
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw err;
  }
}
