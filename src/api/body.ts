import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';
import { describe } from '../util/index.js';

/**
 * Reads a JSON request body of at most `limitBytes`. Throws `ApiError`: 415 for a content type
 * other than application/json, 413 as soon as the declared or received size passes the limit
 * (reading stops there; the server closes the connection after answering), 400 for an empty
 * body, bytes that are not UTF-8, JSON that does not parse, or JSON with a hazard (see
 * `refuseHazards`). Called by route handlers, once per request.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 415, `expected Content-Type: application/json, got ${req.headers['content-type'] ?? 'none'}`);
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes);
  let text: string;
  try {
    text = UTF8.decode(await readLimited(req, limitBytes));
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // Not replaced by U+FFFD: two different byte strings would otherwise name the same process.
    throw new ApiError('BAD_REQUEST', 400, 'the request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new ApiError('BAD_REQUEST', 400, 'the request body is empty; expected JSON');
  if (nestingExceeds(text, MAX_NESTING)) {
    throw new ApiError('BAD_REQUEST', 400, `the request body nests arrays and objects deeper than ${MAX_NESTING} levels`, { details: { maxNesting: MAX_NESTING } });
  }
  try {
    return JSON.parse(text, refuseHazards) as unknown;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError('BAD_REQUEST', 400, `the request body is not valid JSON: ${describe(err)}`);
  }
}

/** Strict: invalid bytes throw. The BOM is kept, so a body that starts with one does not parse. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** In unicode mode a pair is one code point, so this matches only a surrogate without its other half. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * The `JSON.parse` reviver of request bodies; refuses (400), anywhere in the body:
 * - a `__proto__` key: `JSON.parse` makes it a harmless own property, but code that copies the
 *   body by assignment replaces an object's prototype with it, and schemas skip it unvalidated
 *   (zod's records do, so `env: {"__proto__": {...}}` passed with an object for a value);
 * - a string or key with a lone surrogate (a `\uD800` escape): not Unicode, so it has no UTF-8
 *   form, and such a process id could never be named in a URL, a log line or a Kubernetes object.
 */
function refuseHazards(key: string, value: unknown): unknown {
  if (key === '__proto__') {
    throw new ApiError('BAD_REQUEST', 400, 'the request body has a "__proto__" key, which is refused', { details: { key } });
  }
  if (LONE_SURROGATE.test(key) || (typeof value === 'string' && LONE_SURROGATE.test(value))) {
    throw new ApiError('BAD_REQUEST', 400, 'the request body has a string with a lone surrogate (a \\uD800-\\uDFFF escape without its pair), which is not Unicode');
  }
  return value;
}

/**
 * How deep a request body may nest. A process list needs about ten levels; validating, hashing
 * and cloning a body recurse once per level, and a 100 000-deep body would exhaust the stack.
 */
export const MAX_NESTING = 64;

/** True when `text` (JSON or not) opens more than `limit` arrays/objects at once outside strings. */
function nestingExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

function readLimited(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        // Stop reading: the rest is never buffered; the socket is closed once the 413 is out.
        req.pause();
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new ApiError('BAD_REQUEST', 400, `reading the request body failed: ${err.message}`, { cause: err }));
    };
    const onClose = (): void => {
      if (!req.complete) onError(new Error('the client went away'));
    };
    req.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose);
  });
}

function tooLarge(limitBytes: number): ApiError {
  return new ApiError('PAYLOAD_TOO_LARGE', 413, `the request body is larger than ${limitBytes} bytes`, {
    details: { limitBytes },
    headers: { Connection: 'close' },
  });
}
