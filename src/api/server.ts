import type { Server } from 'node:http';
import { chmod, lstat, unlink } from 'node:fs/promises';
import type { Registry } from 'prom-client';
import { http } from '../util/builtins.js';
import { IllegalStateError, describe, realClock, silentLogger } from '../util/index.js';
import type { Clock, Logger } from '../util/index.js';
import type { ApiBackend } from './backend.js';
import { ListenError } from './errors.js';
import { handleRequest } from './handlers.js';
import type { HandlerContext } from './handlers.js';
import { clearStaleSocket, codeOf, formatAddress, isLocalOnly, parseListen } from './listen.js';
import type { ListenAddress } from './listen.js';
import type { Followers } from './logs-route.js';

/** Options of `createApiServer`. Only `backend` is required. */
export interface ApiServerOptions {
  readonly backend: ApiBackend;
  /** `"host:port"`, `"[v6]:port"` or `"unix:/path.sock"`; port 0 picks a free port. Default `"127.0.0.1:7070"`. */
  readonly listen?: string;
  /** Bearer token for mutations (see `authorize`). Default: none. */
  readonly token?: string | undefined;
  /** Largest accepted request body. Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /**
   * Served on `/metrics` (from `createMetrics`). Read on every scrape, so `registry` may appear
   * later (the daemon loads its metrics after the first spawn). Default: none, and `/metrics` is 404.
   */
  readonly metrics?: { readonly registry: Registry | undefined } | undefined;
  /** Default: `silentLogger`. */
  readonly logger?: Logger;
  /** Default: `realClock`. */
  readonly clock?: Clock;
  /** File mode of a unix socket: who may connect (and so mutate without a token). Default 0o600. */
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
  /** The bound address after `start`: `"127.0.0.1:40123"`, `"[::1]:40123"` or the socket path. */
  readonly address: string;
}

/** Builds the API server; nothing listens until `start()`. Called by the daemon (and tests). */
export function createApiServer(opts: ApiServerOptions): ApiServer {
  const listen = parseListen(opts.listen ?? '127.0.0.1:7070');
  const logger = opts.logger ?? silentLogger;
  const clock = opts.clock ?? realClock;
  const followers: Followers = new Set();
  const metrics = opts.metrics;
  const ctx: HandlerContext = {
    backend: opts.backend,
    get registry(): Registry | undefined {
      return metrics?.registry;
    },
    token: opts.token,
    localOnly: isLocalOnly(listen),
    bodyLimitBytes: opts.bodyLimitBytes ?? 1024 * 1024,
    followers,
    logger,
    clock,
  };
  const server = http.createServer((req, res) => {
    handleRequest(ctx, req, res).catch((err: unknown) => logger.error({ err: describe(err) }, 'API request handler failed'));
  });
  let address: string | undefined;
  let socketIno: number | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;

  return {
    get address(): string {
      if (address === undefined) throw new IllegalStateError('the API server has not started');
      return address;
    },
    async start() {
      if (started) throw new IllegalStateError('the API server was started already');
      started = true;
      const shown = listen.kind === 'unix' ? `unix:${listen.path}` : formatAddress(listen);
      if (listen.kind === 'unix') await clearStaleSocket(listen.path);
      await bind(server, listen, shown);
      if (listen.kind === 'unix') {
        await chmod(listen.path, opts.socketMode ?? 0o600);
        socketIno = (await lstat(listen.path)).ino;
      }
      address = boundAddress(server, listen);
      // After bind, an 'error' would otherwise be thrown out of the emitter and end the daemon.
      server.on('error', (err) => logger.error({ address, err: describe(err) }, 'API server error'));
      logger.info({ address, localOnly: ctx.localOnly, auth: ctx.token !== undefined }, 'API listening');
      if (!ctx.localOnly && ctx.token === undefined) {
        logger.warn({ address }, 'the API listens beyond loopback without a token: changes (PUT, POST) are refused with 403 TOKEN_REQUIRED');
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
