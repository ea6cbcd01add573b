import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { problemsOf } from '../config/index.js';
import { ApiError } from './errors.js';

/** The actions of `POST /v1/processes/:id/<action>`. */
export type ProcessAction = 'restart' | 'stop' | 'start';

/** A request path resolved to one of the API's routes. */
export type Route =
  | { readonly name: 'healthz' | 'readyz' | 'metrics' | 'processes' }
  | { readonly name: 'process' | 'logs'; readonly id: string }
  | { readonly name: 'action'; readonly id: string; readonly action: ProcessAction };

/** The methods each route answers; anything else is 405 with this list in `Allow`. */
export const METHODS: Readonly<Record<Route['name'], readonly string[]>> = {
  healthz: ['GET'],
  readyz: ['GET'],
  metrics: ['GET'],
  processes: ['GET', 'PUT'],
  process: ['GET'],
  logs: ['GET'],
  action: ['POST'],
};

const ACTIONS: readonly string[] = ['restart', 'stop', 'start'] satisfies ProcessAction[];

/**
 * Resolves a request path (without the query). Ids are one percent-encoded segment, so an id
 * with a slash is `a%2Fb`. Returns undefined for an unknown path; throws 400 for bad encoding.
 */
export function matchRoute(pathname: string): Route | undefined {
  const raw = pathname.split('/').slice(1);
  const parts = raw.map(decodeSegment);
  const [a, b, c, d, ...rest] = parts;
  if (rest.length > 0) return undefined;
  if (parts.length === 1 && (a === 'healthz' || a === 'readyz' || a === 'metrics')) return { name: a };
  if (a !== 'v1' || b !== 'processes') return undefined;
  if (c === undefined) return { name: 'processes' };
  if (c === '') return undefined;
  if (d === undefined) return { name: 'process', id: c };
  if (d === 'logs') return { name: 'logs', id: c };
  if (ACTIONS.includes(d)) return { name: 'action', id: c, action: d as ProcessAction };
  return undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError('BAD_REQUEST', 400, `the path segment "${segment}" is not valid percent-encoding`);
  }
}

// Strict, like every level of the config: a key beside `processes` is a client's mistake (or a probe).
const envelope = z.strictObject({ processes: z.array(z.unknown()) });

/** Validates the `PUT /v1/processes` envelope (`processes` and nothing else); the entries are the backend's to validate. */
export function parseEnvelope(body: unknown): unknown[] {
  const parsed = envelope.safeParse(body);
  if (!parsed.success) {
    throw new ApiError('BAD_REQUEST', 400, 'expected a JSON object with a "processes" array and no other key', {
      details: { problems: problemsOf(parsed.error) },
    });
  }
  return parsed.data.processes;
}

/** The query of `GET /v1/processes/:id/logs`. */
export interface LogsQuery {
  readonly tail: number | undefined;
  readonly follow: boolean;
}

/** Parses `tail=N` (a non-negative integer) and `follow=1|true|0|false`; anything else is 400. */
export function parseLogsQuery(query: URLSearchParams): LogsQuery {
  const tailText = query.get('tail');
  const followText = query.get('follow');
  let tail: number | undefined;
  if (tailText !== null) {
    tail = /^\d{1,9}$/.test(tailText) ? Number(tailText) : undefined;
    if (tail === undefined) throw badParam('tail', tailText, 'a non-negative integer');
  }
  if (followText !== null && !['1', '0', 'true', 'false'].includes(followText)) {
    throw badParam('follow', followText, '1, 0, true or false');
  }
  return { tail, follow: followText === '1' || followText === 'true' };
}

function badParam(name: string, value: string, expected: string): ApiError {
  return new ApiError('BAD_REQUEST', 400, `query parameter ${name}=${value}: expected ${expected}`, { details: { param: name, value } });
}

/** Writes a JSON response (one line, newline-terminated for terminals). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(text);
}
