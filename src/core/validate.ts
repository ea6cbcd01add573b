import { InvalidArgumentError, isAbortLike, isProcessId, PROCESS_ID_EXPECTED, realClock, silentLogger } from '../util/index.js';
import type { ProcessManagerOptions, ProcessUpdate, TerminateOptions } from './types.js';
import { UPDATE_TYPES } from './types.js';
import type { Settings } from './settings.js';

/** Throws `InvalidArgumentError` unless `id` is a usable process id. */
export function checkId(id: unknown, field = 'id'): asserts id is string {
  if (!isProcessId(id)) {
    throw new InvalidArgumentError(
      `${field}: expected ${PROCESS_ID_EXPECTED}, got ${show(id)}`,
      { field, value: id },
    );
  }
}

/** Throws `InvalidArgumentError` unless `u` is a well-formed update. */
export function checkUpdate<C>(u: ProcessUpdate<C>): void {
  if (typeof u !== 'object' || u === null) {
    throw new InvalidArgumentError(`update: expected an object, got ${show(u)}`, { field: 'update' });
  }
  checkId(u.id);
  if (!UPDATE_TYPES.includes(u.type)) {
    throw new InvalidArgumentError(`type: expected one of ${UPDATE_TYPES.join(', ')}, got ${show(u.type)}`, {
      field: 'type',
      value: u.type,
    });
  }
  if (u.terminate !== undefined) checkTerminate(u.terminate);
}

/** Throws `InvalidArgumentError` unless the terminate options are well-formed. */
export function checkTerminate(t: TerminateOptions): void {
  if (typeof t !== 'object' || t === null) {
    throw new InvalidArgumentError(`terminate: expected an object, got ${show(t)}`, { field: 'terminate' });
  }
  if (t.gracePeriodMs !== undefined) duration(t.gracePeriodMs, 'terminate.gracePeriodMs');
  if (t.evict !== undefined && typeof t.evict !== 'boolean') {
    throw new InvalidArgumentError(`terminate.evict: expected a boolean, got ${show(t.evict)}`, { field: 'terminate.evict' });
  }
}

/** Fills in the defaults of `ProcessManagerOptions` and rejects impossible values. */
export function settingsFrom<C>(o: ProcessManagerOptions<C>): Settings<C> {
  const s = o.syncer as Partial<ProcessManagerOptions<C>['syncer']> | undefined;
  if (!s || typeof s.syncProcess !== 'function' || typeof s.syncTerminating !== 'function' || typeof s.syncTerminated !== 'function') {
    throw new InvalidArgumentError('syncer: expected an object with syncProcess, syncTerminating and syncTerminated functions', {
      field: 'syncer',
    });
  }
  const backoff = o.backoff ?? {};
  const settings: Settings<C> = {
    syncer: o.syncer,
    resyncIntervalMs: duration(o.resyncIntervalMs ?? 30_000, 'resyncIntervalMs'),
    resyncJitter: factor(o.resyncJitter ?? 0.5, 'resyncJitter'),
    backoff: {
      baseMs: duration(backoff.baseMs ?? 1_000, 'backoff.baseMs'),
      maxMs: duration(backoff.maxMs ?? 60_000, 'backoff.maxMs'),
      jitter: factor(backoff.jitter ?? 0.5, 'backoff.jitter'),
    },
    transientRetryMs: duration(o.transientRetryMs ?? 1_000, 'transientRetryMs'),
    isTransient: o.isTransient ?? isAbortLike,
    defaultGracePeriodMs: duration(o.defaultGracePeriodMs ?? 30_000, 'defaultGracePeriodMs'),
    minGracePeriodMs: duration(o.minGracePeriodMs ?? 1_000, 'minGracePeriodMs'),
    gracePeriodFor: o.gracePeriodFor ?? (() => undefined),
    callTimeoutMs: positive(o.callTimeoutMs ?? 120_000, 'callTimeoutMs'),
    terminatingSlackMs: duration(o.terminatingSlackMs ?? 10_000, 'terminatingSlackMs'),
    abortGraceMs: duration(o.abortGraceMs ?? 5_000, 'abortGraceMs'),
    maxProcesses: positive(o.maxProcesses ?? 1_000_000, 'maxProcesses'),
    maxFinished: o.maxFinished === Number.POSITIVE_INFINITY ? o.maxFinished : positive(o.maxFinished ?? 10_000, 'maxFinished'),
    clock: o.clock ?? realClock,
    random: o.random ?? Math.random,
    logger: o.logger ?? silentLogger,
    onEvent: o.onEvent,
  };
  if (settings.backoff.maxMs < settings.backoff.baseMs) {
    throw new InvalidArgumentError(
      `backoff.maxMs: expected at least backoff.baseMs (${settings.backoff.baseMs}), got ${settings.backoff.maxMs}`,
      { field: 'backoff.maxMs' },
    );
  }
  return settings;
}

/** A finite number ≥ 0 (milliseconds). */
export function duration(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new InvalidArgumentError(`${field}: expected a finite number of milliseconds ≥ 0, got ${show(v)}`, { field, value: v });
  }
  return v;
}

function positive(v: unknown, field: string): number {
  if (duration(v, field) === 0) {
    throw new InvalidArgumentError(`${field}: expected a number > 0, got 0`, { field, value: v });
  }
  return v as number;
}

function factor(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 2) {
    throw new InvalidArgumentError(`${field}: expected a number in [0, 2], got ${show(v)}`, { field, value: v });
  }
  return v;
}

/** Renders a bad value for an error message without ever throwing. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (typeof v === 'function') return 'a function';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return typeof v;
  }
}
