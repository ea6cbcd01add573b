import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';

/** What the auth decision looks at; every field comes from the request or the server's options. */
export interface AuthInput {
  /** The request method; only mutations (anything but GET and HEAD) are checked. */
  readonly method: string;
  /** The raw `Authorization` header, if any. */
  readonly authorization: string | undefined;
  /** The configured token, if any. */
  readonly token: string | undefined;
  /** The server listens only on loopback or a unix socket (see `isLocalOnly`). */
  readonly localOnly: boolean;
}

/** The outcome: allowed, or the error to answer with (401 UNAUTHORIZED or 403 TOKEN_REQUIRED). */
export type AuthDecision = { readonly ok: true } | { readonly ok: false; readonly error: ApiError };

const ALLOW: AuthDecision = { ok: true };

/**
 * The auth rule, as one pure function (the server calls it for every request that matched a route):
 * - reads (GET) never need a token;
 * - beyond loopback, a mutation needs `Authorization: Bearer <token>`, and with no token
 *   configured mutations are refused outright (403 TOKEN_REQUIRED) rather than left open;
 * - on loopback or a unix socket no token is needed, but a presented Authorization header must
 *   match a configured token, so a client with a stale token learns it instead of passing by luck.
 */
export function authorize(input: AuthInput): AuthDecision {
  if (input.method === 'GET' || input.method === 'HEAD') return ALLOW;
  if (input.localOnly) {
    if (input.authorization === undefined || input.token === undefined) return ALLOW;
    return bearerMatches(input.authorization, input.token) ? ALLOW : deny('the bearer token does not match');
  }
  if (input.token === undefined) {
    return {
      ok: false,
      error: new ApiError(
        'TOKEN_REQUIRED',
        403,
        'changes are refused: the API listens beyond loopback and no token is configured',
      ),
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
