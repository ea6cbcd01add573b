import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { PHASES } from '../core/index.js';
import type { ProbeName, RuntimeState } from '../supervisor/index.js';
import type { Clock } from '../util/index.js';
import type { ApiBackend, ProcessInfo } from './backend.js';

// A Record keyed by the union makes the compiler flag a state added to the supervisor but not here.
const STATE_SET: Readonly<Record<RuntimeState, true>> = {
  Stopped: true,
  Starting: true,
  Running: true,
  Stopping: true,
  Failed: true,
  Backoff: true,
  Disabled: true,
};
const STATES = Object.keys(STATE_SET) as RuntimeState[];
const PROBES: readonly ProbeName[] = ['startup', 'liveness', 'readiness'];

/** Reads the backend's process list at most once per scrape, however many gauges ask for it. */
export type Snapshot = () => readonly ProcessInfo[];

/**
 * One `backend.list()` per scrape: prom-client calls every metric's `collect` synchronously in one
 * loop, so a cache cleared on the next microtask is shared by exactly one scrape's gauges.
 */
export function snapshotOf(backend: ApiBackend): Snapshot {
  let cached: readonly ProcessInfo[] | undefined;
  return () => {
    if (cached === undefined) {
      cached = backend.list();
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };
}

type Row<L extends string> = readonly [Partial<Record<L, string>>, number];

/**
 * A gauge rebuilt from scratch at every scrape, so a process that is gone has no series left.
 * `rows` returns the label sets and values of this scrape.
 */
function scraped<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], rows: () => Iterable<Row<L>>): void {
  new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: Gauge<L>) {
      this.reset();
      for (const [labels, value] of rows()) this.set(labels, value);
    },
  });
}

function* perProcess<L extends string>(snap: Snapshot, fn: (p: ProcessInfo) => Iterable<Row<L>>): Iterable<Row<L>> {
  for (const p of snap()) yield* fn(p);
}

/** Registers the gauges read from `backend` at scrape time. Called once, by `createMetrics`. */
export function registerProcessGauges(registry: Registry, backend: ApiBackend, snap: Snapshot, clock: Clock): void {
  scraped(registry, 'procmgr_process_phase', 'Engine phase of each process: 1 for the current phase, 0 for the others.', ['process', 'phase'], () =>
    perProcess(snap, (p) => PHASES.map((phase) => [{ process: p.id, phase }, p.phase === phase ? 1 : 0] as const)),
  );
  scraped(registry, 'procmgr_process_state', 'Runtime state of each process: 1 for the current state, 0 for the others.', ['process', 'state'], () =>
    perProcess(snap, (p) => STATES.map((state) => [{ process: p.id, state }, p.state === state ? 1 : 0] as const)),
  );
  scraped(registry, 'procmgr_process_ready', 'Whether the process is ready (running, started, readiness passing).', ['process'], () =>
    perProcess(snap, (p) => [[{ process: p.id }, p.ready ? 1 : 0]]),
  );
  // Two series, not one with a cause label: summing over such a label, as dashboards do by
  // default, would mix deploys back into the crash count that alerts read.
  scraped(
    registry,
    'procmgr_process_restarts',
    'Restarts after the process ended without being asked: exit, crash, failed liveness probe, limit breach (its status.restarts; starts again at 0 when the process is recreated).',
    ['process'],
    () => perProcess(snap, (p) => [[{ process: p.id }, p.restarts]]),
  );
  scraped(
    registry,
    'procmgr_process_requested_restarts',
    'Restarts someone asked for: restart, a changed spec, stop then start (its status.requestedRestarts; starts again at 0 when the process is recreated).',
    ['process'],
    () => perProcess(snap, (p) => [[{ process: p.id }, p.requestedRestarts]]),
  );
  scraped(registry, 'procmgr_process_backoff_seconds', 'Seconds until the next start of a process waiting in Backoff.', ['process'], () =>
    perProcess(snap, (p) =>
      p.state === 'Backoff' && p.nextStartAt !== undefined ? [[{ process: p.id }, Math.max(0, (p.nextStartAt - clock.now()) / 1000)]] : [],
    ),
  );
  scraped(registry, 'procmgr_process_resident_memory_bytes', 'Resident memory of the process group at the last sample.', ['process'], () =>
    perProcess(snap, (p) => (p.usage ? [[{ process: p.id }, p.usage.rssBytes]] : [])),
  );
  scraped(registry, 'procmgr_process_cpu_cores', 'CPU used by the process group between the last two samples, in cores (1 = one core fully busy).', ['process'], () =>
    perProcess(snap, (p) => (p.usage?.cpuPercent !== undefined ? [[{ process: p.id }, p.usage.cpuPercent / 100]] : [])),
  );
  scraped(registry, 'procmgr_process_open_fds', 'Open file descriptors of the group leader at the last sample.', ['process'], () =>
    perProcess(snap, (p) => (p.usage?.openFiles !== undefined ? [[{ process: p.id }, p.usage.openFiles]] : [])),
  );
  scraped(registry, 'procmgr_probe_passing', "Last check of each probe: 1 passed, 0 failed (absent before the probe's first check).", ['process', 'probe'], () =>
    perProcess(snap, (p) =>
      PROBES.flatMap((probe): Row<'process' | 'probe'>[] => {
        const ok = p.probes?.probes[probe]?.ok;
        return ok === undefined ? [] : [[{ process: p.id, probe }, ok ? 1 : 0]];
      }),
    ),
  );
  scraped(registry, 'procmgr_engine_queue_depth', 'Processes waiting in the engine work queue for a resync or retry.', [], () => [[{}, backend.engine().queueDepth]]);
  scraped(registry, 'procmgr_engine_in_flight', 'Sync calls running now.', [], () => [[{}, backend.engine().inFlight]]);
  scraped(registry, 'procmgr_healthy', 'Whether procmgr itself is healthy (what /healthz answers): 1 or 0.', [], () => [[{}, backend.health().ok ? 1 : 0]]);
}
