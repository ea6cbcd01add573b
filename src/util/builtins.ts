import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';

/*
 * node:http and node:https, loaded through `require` rather than an ESM `import`. For an ESM
 * import Node builds a facade that reads every export of the module once, and node:http's
 * exports include lazy getters (WebSocket, CloseEvent, MessageEvent) that load undici, the
 * fetch implementation, with its zlib and web-streams dependencies: on Node 24 an ESM import of
 * node:http is many times slower than a require, a noticeable part of the daemon's start. The
 * daemon needs neither WebSocket nor fetch. Type-only imports of these modules are fine.
 */

const require = createRequire(import.meta.url);

/** node:http, without the undici load an ESM import would trigger (see above). */
export const http = require('node:http') as typeof Http;

/**
 * node:https on first use: it pulls in tls and crypto, slow to load, which only HTTPS probes need.
 * Same require path as `http`, for the same reason; require caches it after the first call.
 */
export function loadHttps(): typeof Https {
  return require('node:https') as typeof Https;
}
