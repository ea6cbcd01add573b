import { DelayQueue, ProcessManager, type ManagerEvent, type ProcessSyncer } from '../../src/core/index.js';
import { fullGc, heapUsed, median, progress, waitUntil, type Row } from './lib.js';

/**
 * Engine suite: the ProcessManager with a no-op syncer on the real clock, and the DelayQueue
 * behind its timers. Every timing is the median of TRIALS runs, each on a fresh manager after a
 * full GC, following one unmeasured warm-up run.
 */

interface Config {
  readonly command: string;
}

// One shared config: the heap figure is what the manager itself keeps per process, not user data.
const CONFIG: Config = { command: 'true' };
const SIZES = [1_000, 10_000, 100_000] as const;
const TRIALS = 3;
const QUEUE_KEYS = 100_000;
const STEADY_PAIRS = 1_000_000; // one add and one pop each: 2 000 000 operations

const noopSyncer: ProcessSyncer<Config> = {
  syncProcess: () => Promise.resolve(undefined),
  syncTerminating: () => Promise.resolve(),
  syncTerminated: () => Promise.resolve(),
};

/** A fresh manager that counts phase events, so waiting costs O(1) per check instead of health()'s O(N). */
class Counted {
  syncing = 0;
  finished = 0;
  // Finished records are kept, as the daemon keeps them (its desired set removes them), so a
  // lifecycle ends with all N Finished instead of the library default's bounded few.
  readonly manager = new ProcessManager<Config>({ syncer: noopSyncer, maxFinished: Number.POSITIVE_INFINITY, onEvent: (e) => this.count(e) });

  private count(e: ManagerEvent): void {
    if (e.type !== 'phase') return;
    if (e.to === 'Syncing') this.syncing++;
    else if (e.to === 'Finished') this.finished++;
  }

  create(ids: readonly string[]): void {
    for (const id of ids) this.manager.updateProcess({ id, type: 'create', config: CONFIG });
  }

  /** Checks outside the timed region that the event counts agree with the manager's own view. */
  expect(phase: 'Syncing' | 'Finished', n: number): void {
    const got = this.manager.health().byPhase[phase];
    if (got !== n) throw new Error(`expected ${n} processes ${phase}, the manager reports ${got}`);
  }
}

function makeIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `proc-${i}`);
}

/** create → Syncing, then terminate all → Finished; both times from the first create. */
async function lifecycle(ids: readonly string[]): Promise<{ syncingMs: number; finishedMs: number }> {
  const n = ids.length;
  const h = new Counted();
  const t0 = performance.now();
  h.create(ids);
  await waitUntil(() => h.syncing === n, `${n} Syncing`);
  const syncingMs = performance.now() - t0;
  const terminated = Promise.all(ids.map((id) => h.manager.terminate(id, { gracePeriodMs: 0 })));
  await waitUntil(() => h.finished === n, `${n} Finished`);
  const finishedMs = performance.now() - t0;
  await terminated;
  h.expect('Finished', n);
  await h.manager.shutdown();
  return { syncingMs, finishedMs };
}

/** Heap growth per process with N live processes in Syncing (ids allocated before the baseline). */
async function retainedPerProcess(ids: readonly string[]): Promise<number> {
  const n = ids.length;
  const h = new Counted();
  fullGc();
  const before = heapUsed();
  h.create(ids);
  await waitUntil(() => h.syncing === n, `${n} Syncing`);
  fullGc();
  const after = heapUsed();
  h.expect('Syncing', n);
  await h.manager.shutdown();
  return (after - before) / n;
}

interface Timed {
  readonly key: string;
  readonly at: number;
}

function timedKeys(n: number): Timed[] {
  return Array.from({ length: n }, (_, i) => ({ key: `proc-${i}`, at: Math.random() * 1_000_000 }));
}

/** Adds every key with a random ready time, then pops them all; (adds + pops) per second. */
function queueBulk(entries: readonly Timed[]): number {
  const q = new DelayQueue<string>();
  const t0 = performance.now();
  for (const e of entries) q.add(e.key, e.at);
  let popped = 0;
  while (q.pop(Number.POSITIVE_INFINITY) !== undefined) popped++;
  const seconds = (performance.now() - t0) / 1000;
  if (popped !== entries.length) throw new Error(`popped ${popped} of ${entries.length} keys`);
  return (2 * entries.length) / seconds;
}

/**
 * Steady state around a heap of `entries.length` keys spread over a window [now, now + size):
 * pop the head, add it back at a random time in the window as "now" moves on (as resyncs do).
 * Counts each add and each pop as one operation.
 */
function queueSteady(entries: readonly Timed[], pairs: number): number {
  const size = entries.length;
  const q = new DelayQueue<string>();
  for (const e of entries) q.add(e.key, (e.at / 1_000_000) * size);
  const jitter = Float64Array.from({ length: 1 << 16 }, () => Math.random() * size);
  const mask = jitter.length - 1;
  const t0 = performance.now();
  for (let i = 0; i < pairs; i++) {
    const key = q.pop(Number.POSITIVE_INFINITY);
    if (key === undefined) throw new Error('queue ran dry');
    q.add(key, i + (jitter[i & mask] ?? 0));
  }
  const seconds = (performance.now() - t0) / 1000;
  if (q.size !== size) throw new Error(`queue holds ${q.size} keys, expected ${size}`);
  return (2 * pairs) / seconds;
}

async function trials<T>(label: string, once: () => Promise<T> | T): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < TRIALS; i++) {
    fullGc();
    progress(`${label} (${i + 1}/${TRIALS})`);
    out.push(await once());
  }
  return out;
}

export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const entries = timedKeys(QUEUE_KEYS);

  progress('warm-up');
  await lifecycle(makeIds(10_000));
  await retainedPerProcess(makeIds(10_000));
  queueBulk(entries);
  queueSteady(entries, STEADY_PAIRS / 5);

  for (const n of SIZES) {
    const ids = makeIds(n);
    const runs = await trials(`lifecycle N=${n}`, () => lifecycle(ids));
    rows.push({ metric: 'create → all Syncing', n, value: median(runs.map((r) => r.syncingMs)), unit: 'ms' });
    rows.push({
      metric: 'create → all Finished (full lifecycle)',
      n,
      value: median(runs.map((r) => r.finishedMs)),
      unit: 'ms',
      ...(n === 10_000 ? { target: { op: '<=', value: 200 } as const } : {}),
    });
  }
  for (const n of SIZES) {
    const ids = makeIds(n);
    const bytes = median(await trials(`retained heap N=${n}`, () => retainedPerProcess(ids)));
    rows.push({
      metric: 'retained heap per live process (Syncing)',
      n,
      value: bytes,
      unit: 'bytes',
      ...(n === 100_000 ? { target: { op: '<=', value: 2048 } as const } : {}),
    });
  }
  const atLeastMillion = { op: '>=', value: 1_000_000 } as const;
  const bulk = median(await trials('DelayQueue bulk', () => queueBulk(entries)));
  rows.push({ metric: 'DelayQueue: add all, pop all', n: QUEUE_KEYS, value: bulk, unit: 'ops/s', target: atLeastMillion });
  const steady = median(await trials('DelayQueue steady', () => queueSteady(entries, STEADY_PAIRS)));
  rows.push({
    metric: `DelayQueue: steady pop+add ×${STEADY_PAIRS.toLocaleString('en-US')} (heap of N)`,
    n: QUEUE_KEYS,
    value: steady,
    unit: 'ops/s',
    target: atLeastMillion,
  });
  return rows;
}
