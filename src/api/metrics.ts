import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ManagerEvent } from '../core/index.js';
import type { SupervisorEvent } from '../supervisor/index.js';
import { realClock } from '../util/index.js';
import type { Clock } from '../util/index.js';
import type { ApiBackend } from './backend.js';
import { registerProcessGauges, snapshotOf } from './metrics-process.js';
import type { Snapshot } from './metrics-process.js';

/** Options of `createMetrics`. */
export interface MetricsOptions {
  readonly backend: ApiBackend;
  /** Where the metrics are registered. Default: a new `Registry` (never prom-client's global one). */
  readonly registry?: Registry;
  /** For the backoff countdown. Default: `realClock`. */
  readonly clock?: Clock;
  /** Also register prom-client's default metrics of the daemon's own process. Default: true. */
  readonly defaultMetrics?: boolean;
}

/**
 * procmgr's Prometheus metrics. The daemon feeds it every manager and supervisor event (the
 * handlers are synchronous and never throw); the API serves `registry` on `/metrics`.
 */
export interface Metrics {
  readonly registry: Registry;
  onManagerEvent(event: ManagerEvent): void;
  onSupervisorEvent(event: SupervisorEvent): void;
}

/** Sync calls run from milliseconds to a full grace period (30 s by default) and beyond. */
const SYNC_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Probe checks take a millisecond (tcp on loopback) up to their timeout (1 s by default). */
const PROBE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Builds the metrics (see docs/api.md for the list). Per-process series come from
 * `backend.list()` at scrape time; event counts are kept per process and dropped when the process
 * is removed or no longer listed, so no series outlives its process. Called once by the daemon.
 */
export function createMetrics(opts: MetricsOptions): Metrics {
  const registry = opts.registry ?? new Registry();
  const snap = snapshotOf(opts.backend);
  // The event-loop lag monitor samples every 10 ms by default: a wake-up that costs an idle daemon
  // more CPU than everything else together. One sample a second is plenty for a scrape.
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1_000 });
  registerProcessGauges(registry, opts.backend, snap, opts.clock ?? realClock);

  const exits = new PerProcessCounts();
  const probes = new PerProcessCounts();
  countersFrom(registry, snap, exits, 'procmgr_process_exits_total', 'Exits of each process by exit code, or by signal name when killed.', ['process', 'code']);
  countersFrom(
    registry,
    snap,
    probes,
    'procmgr_probe_transitions_total',
    'Probe results that changed the verdict (the supervisor reports flips, not every check), by probe and result.',
    ['process', 'probe', 'result'],
  );
  const syncDuration = new Histogram({
    name: 'procmgr_sync_duration_seconds',
    help: 'Duration of engine sync calls, by hook and outcome.',
    labelNames: ['hook', 'outcome'],
    buckets: SYNC_BUCKETS,
    registers: [registry],
  });

  const probed = new Map<string, Set<string>>();
  const forget = (id: string): void => {
    for (const probe of probed.get(id) ?? []) probeDuration.remove({ process: id, probe });
    probed.delete(id);
  };
  const probeDuration: Histogram = new Histogram({
    name: 'procmgr_probe_duration_seconds',
    help: 'Duration of every probe check, by process and probe (a timed-out check counts its timeout).',
    labelNames: ['process', 'probe'],
    buckets: PROBE_BUCKETS,
    registers: [registry],
    collect() {
      const listed = new Set(snap().map((p) => p.id));
      for (const id of [...probed.keys()]) if (!listed.has(id)) forget(id);
    },
  });

  return {
    registry,
    onManagerEvent(e) {
      if (e.type === 'sync') syncDuration.observe({ hook: e.hook, outcome: e.outcome }, e.durationMs / 1000);
      else if (e.type === 'removed') {
        exits.drop(e.id);
        probes.drop(e.id);
        forget(e.id);
      }
    },
    onSupervisorEvent(e) {
      if (e.type === 'exited') exits.add(e.id, { code: e.signal ?? (e.code === null ? 'unknown' : String(e.code)) });
      else if (e.type === 'probe') probes.add(e.id, { probe: e.probe, result: e.result });
      else if (e.type === 'probeCheck') {
        probeDuration.observe({ process: e.id, probe: e.probe }, e.durationMs / 1000);
        let set = probed.get(e.id);
        if (!set) probed.set(e.id, (set = new Set()));
        set.add(e.probe);
      }
    },
  };
}

interface CountRow {
  readonly labels: Record<string, string>;
  n: number;
}

/** Event counts by process, then by the rest of the label set. Plain maps: pruning is a delete. */
class PerProcessCounts {
  readonly byProcess = new Map<string, Map<string, CountRow>>();

  add(id: string, labels: Record<string, string>): void {
    let rows = this.byProcess.get(id);
    if (!rows) this.byProcess.set(id, (rows = new Map<string, CountRow>()));
    const key = JSON.stringify(labels);
    const row = rows.get(key);
    if (row) row.n += 1;
    else rows.set(key, { labels: { process: id, ...labels }, n: 1 });
  }

  drop(id: string): void {
    this.byProcess.delete(id);
  }
}

/** A counter exposing `counts`, pruned to the processes the backend lists at scrape time. */
function countersFrom(registry: Registry, snap: Snapshot, counts: PerProcessCounts, name: string, help: string, labelNames: string[]): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      const listed = new Set(snap().map((p) => p.id));
      for (const [id, rows] of counts.byProcess) {
        if (!listed.has(id)) {
          counts.drop(id);
          continue;
        }
        for (const { labels, n } of rows.values()) this.inc(labels, n);
      }
    },
  });
}
