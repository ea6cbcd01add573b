import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';

/**
 * What a route gives access to: `open` (health, readiness, and metrics unless protected),
 * `read` (process data: the list, one process, logs), `change` (PUT, POST).
 */
export type Access = 'open' | 'read' | 'change';

/** What the auth decision looks at; every field comes from the request or the server's options. */
export interface AuthInput {
  readonly access: Access;
  /** The raw `Authorization` header, if any. */
  readonly authorization: string | undefined;
  /** The token in force, if any. */
  readonly token: string | undefined;
  /** A unix socket (the kernel checked the client against the socket's file mode) or TCP. */
  readonly transport: 'unix' | 'tcp';
}

/** The outcome: allowed, or the error to answer with (401 UNAUTHORIZED or 403 TOKEN_REQUIRED). */
export type AuthDecision = { readonly ok: true } | { readonly ok: false; readonly error: ApiError };

const ALLOW: AuthDecision = { ok: true };

/**
 * The auth rule, as one pure function (the server calls it for every request that matched a route):
 * - `open` routes never need a token (kubelet probes, Prometheus);
 * - on TCP, loopback included, reads of process data and changes need `Authorization: Bearer
 *   <token>`: any local user can connect to loopback. With no token in force they are refused
 *   outright (403 TOKEN_REQUIRED) rather than left open;
 * - on a unix socket the socket's file mode is the authentication, so no token is needed; a
 *   presented header must still match a token in force, so a client with a stale token learns it.
 */
export function authorize(input: AuthInput): AuthDecision {
  if (input.access === 'open') return ALLOW;
  if (input.transport === 'unix') {
    if (input.authorization === undefined || input.token === undefined) return ALLOW;
    return bearerMatches(input.authorization, input.token) ? ALLOW : deny('the bearer token does not match');
  }
  if (input.token === undefined) {
    return {
      ok: false,
      error: new ApiError('TOKEN_REQUIRED', 403, 'refused: this TCP listener has no token configured, so process data and changes are closed (configure api.token or api.tokenFile, or use a unix socket)'),
    };
  }
  if (input.authorization === undefined) return deny('this request needs "Authorization: Bearer <token>"');
  return bearerMatches(input.authorization, input.token) ? ALLOW : deny('the bearer token does not match');
}

function deny(message: string): AuthDecision {
  return { ok: false, error: new ApiError('UNAUTHORIZED', 401, message, { headers: { 'WWW-Authenticate': 'Bearer realm="procmgr"' } }) };
}

/** `Bearer <token>` (scheme case-insensitive) compared in constant time. */
export function bearerMatches(header: string, token: string): boolean {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (m?.[1] === undefined) return false;
  // Hashing first gives equal lengths, so neither the content nor the length leaks through timing.
  return timingSafeEqual(digest(m[1]), digest(token));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
