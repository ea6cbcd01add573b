import type { Deadline } from './deadlines.js';
import type { Hook, ProcessStatus, UpdateType } from './types.js';
import { phaseOf } from './phase.js';

/** Why the manager aborted a call it had started. */
export type AbortCause = 'superseded' | 'timeout' | 'shutdown';

/** The one syncer call in flight for a process. */
export interface ActiveCall {
  readonly hook: Hook;
  readonly controller: AbortController;
  readonly startedAt: number;
  abortedFor: AbortCause | undefined;
  /** Its one armed deadline: its own, or the abort grace once aborted; unset once it ended. */
  deadline: Deadline<unknown> | undefined;
}

/** The pending slot: the latest update not yet picked up by the worker (latest config wins). */
export interface Pending<C> {
  readonly type: UpdateType;
  readonly config: C | undefined;
}

/** A promise handed out by `terminate`, settled when the process reaches Terminated. */
export interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Everything the manager knows about one id. Mutable, and mutated only by the engine's
 * synchronous handlers and the call mechanics it owns (one owner); others get it `Readonly`. Kept flat and small: there is one per process, and the
 * engine bench's retained-heap row watches what they cost.
 */
export interface ProcessRecord<C> {
  readonly id: string;
  /** The active config: the last one a worker picked up. */
  config: C | undefined;
  /** The active update type. */
  updateType: UpdateType;
  pending: Pending<C> | undefined;
  call: ActiveCall | undefined;
  readonly createdAt: number;
  /** When the first syncProcess call was dispatched; unset means "never started" (B9). */
  startedAt: number | undefined;
  syncedAt: number | undefined;
  terminatingAt: number | undefined;
  terminatedAt: number | undefined;
  finishedAt: number | undefined;
  gracePeriodMs: number | undefined;
  evict: boolean;
  lastSyncAt: number | undefined;
  errorCount: number;
  failureCount: number;
  totalErrors: number;
  syncCount: number;
  lastError: unknown;
  waiters: Waiter[] | undefined;
  /**
   * A create arrived while terminating or finished (the kubelet's `restartRequested`): once
   * Finished, `syncKnownProcesses` purges the record and starts the id afresh with this config.
   */
  restart: { readonly config: C } | undefined;
}

/** A fresh record in phase Starting. */
export function newRecord<C>(id: string, now: number): ProcessRecord<C> {
  return {
    id,
    config: undefined,
    updateType: 'create',
    pending: undefined,
    call: undefined,
    createdAt: now,
    startedAt: undefined,
    syncedAt: undefined,
    terminatingAt: undefined,
    terminatedAt: undefined,
    finishedAt: undefined,
    gracePeriodMs: undefined,
    evict: false,
    lastSyncAt: undefined,
    restart: undefined,
    errorCount: 0,
    failureCount: 0,
    totalErrors: 0,
    syncCount: 0,
    lastError: undefined,
    waiters: undefined,
  };
}

/** The update type that survives when `next` lands on a pending `prev`: terminate > create > update > sync. */
export function mergeType(prev: UpdateType | undefined, next: UpdateType): UpdateType {
  if (prev === undefined) return next;
  return RANK[next] >= RANK[prev] ? next : prev;
}

const RANK: Readonly<Record<UpdateType, number>> = { sync: 0, update: 1, create: 2, terminate: 3 };

/** A read-only snapshot for callers; shares nothing mutable with the record. */
export function snapshot<C>(r: Readonly<ProcessRecord<C>>, nextSyncAt: number | undefined): ProcessStatus<C> {
  const phase = phaseOf(r);
  return {
    id: r.id,
    phase,
    config: r.pending?.config ?? r.config,
    healthy: phase === 'Syncing' && r.failureCount === 0,
    inFlight: r.call?.hook,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    syncedAt: r.syncedAt,
    terminatingAt: r.terminatingAt,
    terminatedAt: r.terminatedAt,
    finishedAt: r.finishedAt,
    lastSyncAt: r.lastSyncAt,
    nextSyncAt,
    gracePeriodMs: r.gracePeriodMs,
    errorCount: r.errorCount,
    failureCount: r.failureCount,
    totalErrors: r.totalErrors,
    syncCount: r.syncCount,
    lastError: r.lastError,
  };
}

/** Settles every terminate promise of `rec`: resolves them, or rejects them with `err`. */
export function settleWaiters(rec: { waiters: Waiter[] | undefined }, err?: unknown): void {
  const waiters = rec.waiters;
  rec.waiters = undefined;
  if (!waiters) return;
  for (const w of waiters) {
    if (err === undefined) w.resolve();
    else w.reject(err);
  }
}
