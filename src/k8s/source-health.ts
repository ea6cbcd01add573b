import { statusOf } from './api.js';
import { describe } from '../util/index.js';

/**
 * How the sidecar's reads of its source stand, for `/healthz` and the readiness gate.
 * - `waiting`: started, nothing heard from the server yet.
 * - `synced`: the last list (or watch) succeeded.
 * - `failing`: the last attempt failed in a way that passes by itself (connection, 5xx, 429, 410); retrying.
 * - `refused`: the server said no in a way only a person can fix: 401 (the token), 403 (RBAC),
 *   404 (the CRD is not installed). Still retried, as RBAC may be fixed while the pod runs.
 */
export type SourceState = 'waiting' | 'synced' | 'failing' | 'refused';

/** The last failed read, as `/healthz` shows it. */
export interface SourceError {
  /** The HTTP status, when the server answered. */
  readonly status?: number;
  /** The server's own message (a Status object's), or the error's: one readable line. */
  readonly message: string;
  readonly at: number;
}

/** What `/healthz` shows under `source`. */
export interface SourceHealth {
  readonly state: SourceState;
  /** When `state` was entered. */
  readonly since: number;
  /** When the source was first read successfully since start (the readiness gate opens then). */
  readonly firstReadAt?: number;
  readonly lastError?: SourceError;
}

/** Statuses that retrying does not fix. */
const REFUSALS = new Set([401, 403, 404]);
/** The longest message kept: a Status message is short, but a proxy's HTML error page is not. */
const MAX_MESSAGE = 1_024;

/**
 * Records the outcome of each read. Owned by one watch loop; `now` comes from its clock. A
 * recording-only object: deciding what to do about a refusal is the caller's.
 */
export class SourceHealthTracker {
  #health: SourceHealth;
  /** The refusal last reported, so a loop that lists, is refused a watch and lists again reports it once. */
  #reported: string | undefined;

  constructor(now: number) {
    this.#health = { state: 'waiting', since: now };
  }

  get health(): SourceHealth {
    return this.#health;
  }

  /**
   * A successful list (`watched` false) or watch event (true). Only a watch that delivers clears
   * the memory of the last refusal: a list alone does not show the watch is allowed again.
   */
  succeeded(now: number, watched: boolean): void {
    if (watched) this.#reported = undefined;
    const h = this.#health;
    if (h.state === 'synced') return;
    this.#health = { state: 'synced', since: now, firstReadAt: h.firstReadAt ?? now, ...(h.lastError ? { lastError: h.lastError } : {}) };
  }

  /** A failed read; returns the error when it is a refusal not reported yet (to log and record once). */
  failed(err: unknown, now: number): SourceError | undefined {
    const error = describeApiError(err, now);
    const state: SourceState = error.status !== undefined && REFUSALS.has(error.status) ? 'refused' : 'failing';
    const h = this.#health;
    this.#health = { state, since: h.state === state ? h.since : now, ...(h.firstReadAt === undefined ? {} : { firstReadAt: h.firstReadAt }), lastError: error };
    if (state !== 'refused' || this.#reported === error.message) return undefined;
    this.#reported = error.message;
    return error;
  }
}

/**
 * One readable line for an API error: `403 Forbidden: <the server's message>`. client-node's
 * ApiException carries the server's Status as a JSON string under a generic message, and its
 * `message` is that string escaped again, so the message is taken from the Status itself.
 */
export function describeApiError(err: unknown, now: number): SourceError {
  const status = statusOf(err);
  const body = (err as { body?: unknown } | undefined)?.body;
  const object = statusObject(body);
  const fromServer = stringField(object, 'message') ?? (object === undefined && typeof body === 'string' && body.trim() !== '' ? body : undefined);
  const own = describe(err);
  const head = [status, stringField(object, 'reason')].filter((x) => x !== undefined).join(' ');
  const text = fromServer ?? (status === undefined ? own : 'no message from the server');
  const line = (head === '' ? text : `${head}: ${text}`).replace(/\s+/g, ' ').trim();
  return { ...(status === undefined ? {} : { status }), message: line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE)}…` : line, at: now };
}

function statusObject(body: unknown): Record<string, unknown> | undefined {
  let value = body;
  if (typeof value === 'string') {
    if (value.length > 65_536) return undefined;
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function stringField(object: Record<string, unknown> | undefined, key: string): string | undefined {
  const v = object?.[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}
