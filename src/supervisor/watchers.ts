import type { ProcessSpec } from '../config/index.js';
import type { Clock, Logger } from '../util/index.js';
import type { ProcessHandle } from './handle.js';
import { ProbeSet, Ticker, type ProbeCheckResult, type ProbeEvent, type ProbeSetStatus } from './probes/index.js';
import { ResourceMonitor, type ResourceBreach, type ResourceUsage } from './resources.js';
import { processEnv } from './spawn.js';

/** The probes' timer grid (see `ProbeSetOptions.coalesceMs`): at most a quarter of each wait. */
const PROBE_COALESCE_MS = 250;

// One per clock, so the probes of every process (and every supervisor) on it share their timers.
const tickers = new WeakMap<Clock, Ticker>();

function tickerFor(clock: Clock): Ticker {
  let t = tickers.get(clock);
  if (!t) tickers.set(clock, (t = new Ticker(clock)));
  return t;
}

/** Callbacks from the watchers of one run to its runtime. */
export interface WatcherSink {
  probe(e: ProbeEvent): void;
  check(c: ProbeCheckResult): void;
  breach(b: ResourceBreach): void;
}

/**
 * The probes and the resource monitor of one run of one process. Started with the run, stopped
 * when it ends; never outlives it (a stale probe must not restart the next run).
 */
export class RunWatchers {
  readonly probes: ProbeSet | undefined;
  readonly monitor: ResourceMonitor | undefined;
  #stopped = false;

  constructor(opts: { id: string; spec: ProcessSpec; handle: ProcessHandle; clock: Clock; logger: Logger; sink: WatcherSink }) {
    const { id, spec, handle, clock, logger, sink } = opts;
    const hasProbe = spec.probes.startup ?? spec.probes.liveness ?? spec.probes.readiness;
    this.probes = hasProbe
      ? new ProbeSet({
          id,
          probes: spec.probes,
          target: { env: processEnv(spec), cwd: spec.cwd },
          clock,
          logger,
          // Many processes probed every second would each wake the daemon, and a wake-up costs
          // about as much as a check; on a shared grid they wake it a few times and share the
          // turns (the figures are in docs/benchmarks.md).
          coalesceMs: PROBE_COALESCE_MS,
          ticker: tickerFor(clock),
          onChange: (e) => {
            if (!this.#stopped) sink.probe(e);
          },
          onCheck: (c) => {
            if (!this.#stopped) sink.check(c);
          },
        })
      : undefined;
    this.monitor =
      spec.resources && handle.startTimeTicks !== undefined
        ? new ResourceMonitor({
            id,
            pid: handle.pid,
            startTimeTicks: handle.startTimeTicks,
            spec: spec.resources,
            clock,
            logger,
            onBreach: (b) => {
              if (!this.#stopped) sink.breach(b);
            },
          })
        : undefined;
    this.probes?.start();
    this.monitor?.start();
  }

  /** Startup passed (or there is no startup probe). */
  get started(): boolean {
    return this.probes?.status.started ?? true;
  }

  get probeStatus(): ProbeSetStatus | undefined {
    return this.probes?.status;
  }

  get usage(): ResourceUsage | undefined {
    return this.monitor?.last;
  }

  /** Stops everything; in-flight probe checks are aborted and awaited. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.monitor?.stop();
    await this.probes?.stop();
  }
}
