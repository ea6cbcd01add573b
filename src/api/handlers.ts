import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Clock, Logger } from '../util/index.js';
import { authorize, type Access } from './auth.js';
import type { ApiBackend, ProcessInfo } from './backend.js';
import { readJsonBody } from './body.js';
import { ApiError, toHttpError } from './errors.js';
import { checkBrowser, checkFormPost, type GuardListen } from './guard.js';
import { serveLogs } from './logs-route.js';
import type { Followers } from './logs-route.js';
import { readinessOf } from '../supervisor/index.js';
import { METHODS, matchRoute, parseEnvelope, parseLogsQuery, sendJson } from './routes.js';
import type { Route } from './routes.js';
import type { WarnLimiter } from './warn-limiter.js';

/** What every request handler needs; built once by the server. */
export interface HandlerContext {
  readonly backend: ApiBackend;
  readonly registry: Registry | undefined;
  /** The token in force (it may change: a reload rotates it). */
  readonly token: string | undefined;
  readonly listen: GuardListen;
  /** `/metrics` needs the token like process data (`api.metricsAuth`). */
  readonly metricsAuth: boolean;
  readonly bodyLimitBytes: number;
  readonly followers: Followers;
  readonly logger: Logger;
  /** Refused requests are logged through it, so a flood of them is not a flood of lines. */
  readonly refusals: WarnLimiter;
  readonly clock: Clock;
}

/**
 * Answers one request; never rejects. The order of checks is Host present → browser checks (Host,
 * Origin) → route → method → auth → form-post check → body, so an unauthenticated client learns
 * which routes exist but never whether an id does.
 */
export async function handleRequest(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = ctx.clock.now();
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  const method = req.method ?? 'GET';
  try {
    // RFC 9112 §3.2 (Node's own check, turned off in the server, answers without a body).
    if (req.headers.host === undefined && req.httpVersion !== '1.0') throw new ApiError('BAD_REQUEST', 400, `an HTTP/${req.httpVersion} request needs a Host header`);
    const refused = checkBrowser(method, req.headers, ctx.listen);
    if (refused) throw refusal(ctx, refused, method, pathname, req);
    const route = matchRoute(pathname);
    if (route === undefined) throw new ApiError('NOT_FOUND', 404, `no route ${pathname}`, { details: { path: pathname } });
    const allowed = METHODS[route.name];
    if (!allowed.includes(method)) {
      throw new ApiError('METHOD_NOT_ALLOWED', 405, `${method} is not allowed on ${pathname}; allowed: ${allowed.join(', ')}`, {
        headers: { Allow: allowed.join(', ') },
      });
    }
    const auth = authorize({ access: accessOf(ctx, route, method), authorization: req.headers.authorization, token: ctx.token, transport: ctx.listen.transport });
    if (!auth.ok) throw refusal(ctx, auth.error, method, pathname, req);
    const formPost = checkFormPost(method, req.headers, ctx.listen.transport);
    if (formPost) throw refusal(ctx, formPost, method, pathname, req);
    await dispatch(ctx, route, method, req, res, new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
  } catch (err) {
    const http = toHttpError(err);
    if (http.unexpected) ctx.logger.error({ err, method, path: pathname }, 'API request failed unexpectedly');
    if (res.headersSent) res.destroy();
    else sendJson(res, http.status, http.body, http.headers);
  } finally {
    ctx.logger.debug({ method, path: pathname, status: res.statusCode, durationMs: ctx.clock.now() - started }, 'api request');
  }
}

function accessOf(ctx: HandlerContext, route: Route, method: string): Access {
  if (method !== 'GET' && method !== 'HEAD') return 'change';
  if (route.name === 'healthz' || route.name === 'readyz') return 'open';
  if (route.name === 'metrics') return ctx.metricsAuth ? 'read' : 'open';
  return 'read';
}

// Who was refused, and why, without the credentials: the Authorization header is never logged.
function refusal(ctx: HandlerContext, error: ApiError, method: string, path: string, req: IncomingMessage): ApiError {
  ctx.refusals.warn(
    { code: error.code, method, path: path.slice(0, 200), remote: req.socket.remoteAddress, host: req.headers.host?.slice(0, 100), origin: req.headers.origin?.slice(0, 100) },
    'API request refused',
  );
  return error;
}

async function dispatch(ctx: HandlerContext, route: Route, method: string, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
  const { backend } = ctx;
  switch (route.name) {
    case 'healthz': {
      const h = backend.health();
      sendJson(res, h.ok ? 200 : 503, { ok: h.ok, ...withoutOk(h.details) });
      return;
    }
    case 'readyz': {
      const r = readinessOf(backend.list(), backend.engine().state, backend.notReadyReason());
      sendJson(res, r.ready ? 200 : 503, r);
      return;
    }
    case 'metrics': {
      if (ctx.registry === undefined) throw new ApiError('NOT_FOUND', 404, 'metrics are not enabled on this server');
      const text = await ctx.registry.metrics();
      res.writeHead(200, { 'Content-Type': ctx.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    case 'processes': {
      if (method === 'GET') {
        sendJson(res, 200, { processes: backend.list() });
        return;
      }
      const processes = parseEnvelope(await readJsonBody(req, ctx.bodyLimitBytes));
      sendJson(res, 200, await backend.apply(processes));
      return;
    }
    case 'process':
      sendJson(res, 200, known(backend, route.id));
      return;
    case 'logs': {
      const logsQuery = parseLogsQuery(query);
      known(backend, route.id);
      serveLogs({ res, backend, id: route.id, query: logsQuery, followers: ctx.followers, logger: ctx.logger });
      return;
    }
    case 'action':
      known(backend, route.id);
      await backend[route.action](route.id);
      // 202: the backend has recorded the request; the process gets there on the engine's time.
      sendJson(res, 202, { id: route.id, action: route.action, accepted: true });
      return;
  }
}

function known(backend: ApiBackend, id: string): ProcessInfo {
  const info = backend.get(id);
  if (info === undefined) throw new ApiError('NOT_FOUND', 404, `no process "${id}"`, { details: { id } });
  return info;
}

function withoutOk(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...details };
  delete rest['ok'];
  return rest;
}
