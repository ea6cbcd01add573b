import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { ApiError } from './errors.js';

/** Where the server listens, as the browser checks need it. */
export interface GuardListen {
  readonly transport: 'unix' | 'tcp';
  /** The configured TCP host (`127.0.0.1`, `0.0.0.0`, `::`, `localhost`, a name); unused for unix. */
  readonly host: string;
  /** Extra host names a client may use in `Host` (lower case, no port): `api.allowedHosts`. */
  readonly allowedHosts: ReadonlySet<string>;
}

/**
 * The checks against web pages, run on every request before routing (a browser cannot reach a
 * unix socket, so they apply to TCP only). Returns the error to answer with, or undefined:
 * - `Host` must name this server: a DNS-rebinding page reaches 127.0.0.1 under its own name, so
 *   only `localhost`, an allowed name, or an IP literal that is an address we listen on (any for
 *   a wildcard listener, any loopback one for a loopback listener) passes. An IP literal cannot
 *   be rebound. Ports are not compared: SSH tunnels and container port maps change them.
 * - an `Origin` other than the server's own (`http(s)://<Host>`) is refused (CSRF, and reads a
 *   page could otherwise make through CORS); `Origin: null` too;
 * - a change with `Sec-Fetch-Site` other than `same-origin` or `none` is refused.
 */
export function checkBrowser(method: string, headers: IncomingHttpHeaders, listen: GuardListen): ApiError | undefined {
  if (listen.transport === 'unix') return undefined;
  const host = headers.host;
  if (host !== undefined && !hostAllowed(host, listen)) {
    return new ApiError('HOST_NOT_ALLOWED', 403, `refused: Host "${clip(host)}" does not name this server (DNS rebinding?); add the name to api.allowedHosts if it is yours`, {
      details: { host: clip(host) },
    });
  }
  const origin = headers.origin;
  if (origin !== undefined && !sameOrigin(origin, host)) {
    return new ApiError('ORIGIN_NOT_ALLOWED', 403, `refused: Origin "${clip(origin)}" is not this server's own origin (cross-site request)`, {
      details: { origin: clip(origin) },
    });
  }
  if (method === 'GET' || method === 'HEAD') return undefined;
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return new ApiError('ORIGIN_NOT_ALLOWED', 403, `refused: a change sent by a ${clip(site)} page`, { details: { secFetchSite: clip(site) } });
  }
  return undefined;
}

/**
 * A change without an `Authorization` header must be `Content-Type: application/json`, which a
 * cross-site form or a no-cors fetch cannot send without a preflight (that the server never
 * answers). Runs after auth, so a client without a token learns that first; on TCP a change
 * without the header never gets here, so this guards credentials a browser adds on its own.
 */
export function checkFormPost(method: string, headers: IncomingHttpHeaders, transport: 'unix' | 'tcp'): ApiError | undefined {
  if (transport === 'unix' || method === 'GET' || method === 'HEAD' || headers.authorization !== undefined) return undefined;
  const type = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') return undefined;
  return new ApiError('UNSUPPORTED_MEDIA_TYPE', 415, 'a change needs "Authorization: Bearer <token>" or "Content-Type: application/json"');
}

/** The host name of a `Host` header (brackets of an IPv6 literal removed, lower case), or undefined when it is malformed. */
export function hostName(header: string): string | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]\s]+))(?::\d{1,5})?$/i.exec(header);
  const name = m?.[1] ?? m?.[2];
  return name?.toLowerCase();
}

function hostAllowed(header: string, listen: GuardListen): boolean {
  const name = hostName(header);
  if (name === undefined) return false;
  if (name === 'localhost' || listen.allowedHosts.has(name)) return true;
  const bound = listen.host.toLowerCase();
  if (isIP(name) === 0) return name === bound;
  if (isLoopback(bound)) return isLoopback(name);
  // Every address, or a listen name whose addresses we do not know.
  if (bound === '0.0.0.0' || bound === '::' || isIP(bound) === 0) return true;
  return name === bound;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.')) || host.startsWith('::ffff:127.');
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`http://${host}`).host && url.pathname === '/';
  } catch {
    return false; // "null", garbage
  }
}

function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
