import type { ProcessSpec } from '../config/index.js';
import type { Clock, Logger } from '../util/index.js';
import type { ProcessHandle } from './handle.js';
import type { ProbeCheckResult, ProbeEvent, ProbeSetStatus } from './probes/index.js';
import type { ResourceBreach, ResourceUsage } from './resources.js';
import type { StopProgress } from './signals.js';
import { RunWatchers } from './watchers.js';

// Awaiting a settled promise costs one microtask; a stop of hundreds of processes awaits this often.
const DONE = Promise.resolve();

/** procmgr's wish to end a run (probe failure or limit breach); `kill` skips the grace. */
export interface EndRequest {
  readonly reason: string;
  readonly kill: boolean;
}

/**
 * One run of a process (spawned, reattached or attached): its handle, its watchers, the stop in
 * progress and procmgr's wish to end it. Created and owned by its runtime; a stale run's
 * callbacks are ignored by the runtime, and its watchers never outlive it.
 */
export class Run {
  readonly handle: ProcessHandle;
  /** The stop of this run, carried across aborted calls (see `StopProgress`); written by `stopProcess` only. */
  readonly stopProgress: StopProgress = { signalledAt: undefined, escaped: [] };
  #watchers: RunWatchers | undefined;
  #endRequest: EndRequest | undefined;
  #settled = false;

  constructor(opts: {
    id: string;
    spec: ProcessSpec;
    handle: ProcessHandle;
    clock: Clock;
    logger: Logger;
    sink: { probe(e: ProbeEvent): void; check(c: ProbeCheckResult): void; breach(b: ResourceBreach): void };
  }) {
    this.handle = opts.handle;
    this.#watchers = new RunWatchers(opts);
  }

  /** The leader has not exited. */
  get live(): boolean {
    return this.handle.exit === undefined;
  }

  /** Startup passed (or there is no startup probe). */
  get startedUp(): boolean {
    return this.#watchers?.started ?? true;
  }

  get probeStatus(): ProbeSetStatus | undefined {
    return this.#watchers?.probeStatus;
  }

  get usage(): ResourceUsage | undefined {
    return this.#watchers?.usage;
  }

  get endRequest(): EndRequest | undefined {
    return this.#endRequest;
  }

  /** Asks for the end of this run; the first reason wins. */
  requestEnd(req: EndRequest): void {
    this.#endRequest ??= req;
  }

  /** Stops the watchers (awaited so no check outlives the run). Idempotent. */
  stopWatchers(): Promise<void> {
    const w = this.#watchers;
    this.#watchers = undefined;
    return w ? w.stop() : DONE;
  }

  /** Marks the exit as recorded; true the first time only (an exit is recorded once per run). */
  settle(): boolean {
    if (this.#settled || this.handle.exit === undefined) return false;
    this.#settled = true;
    this.#endRequest = undefined;
    this.handle.dispose();
    void this.stopWatchers();
    return true;
  }
}
