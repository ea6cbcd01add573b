import type { ProcessSpec } from '../config/index.js';
import type { Clock, Logger } from '../util/index.js';
import { adoptProcess, ownChild, type ProcessHandle } from './handle.js';
import { spawnRun } from './output.js';
import { readStat, type ProcStat } from './proc.js';
import { killLeftovers, stopProcess, type StopOptions } from './signals.js';
import { prepareSpawn } from './spawn.js';
import type { StateStore } from './state-store.js';

/** What `OsPort.adopt` needs to watch a process that is not our child. */
export interface AdoptRequest {
  readonly pid: number;
  readonly startTimeTicks: number;
  /** It leads its own process group (procmgr may signal the group). */
  readonly group: boolean;
  readonly startedAt: number;
  readonly pollMs: number;
  readonly runMark?: string | undefined;
}

/** A run the port has spawned; `spooled`: its output goes to the state dir's spools, not pipes. */
export interface SpawnedRun {
  readonly handle: ProcessHandle;
  readonly spooled: boolean;
}

/**
 * Everything the supervisor does to OS processes, so its decisions (restart, breaker, reattach)
 * can be tested with a recording fake and a fake clock. The runtime, sync and the supervisor call
 * it; `realOs` is the default. Implementations report an exit through the handle's `exit`/`exited`.
 */
export interface OsPort {
  /** Spawns a new run of `spec` for `ctx.id` (output spooled when there is a store). Rejects when it cannot start. */
  spawn(spec: ProcessSpec, ctx: { readonly id: string; readonly store: StateStore | undefined; readonly logger: Logger; readonly clock: Clock }): Promise<SpawnedRun>;
  /** Watches a live process that is not our child (reattach, unmanaged). */
  adopt(req: AdoptRequest, clock: Clock): ProcessHandle;
  /** Stop signal → grace → SIGKILL (see `stopProcess`); true when SIGKILL was needed. */
  stop(h: ProcessHandle, opts: StopOptions): Promise<boolean>;
  /** Kills what is left of a run whose leader exited by itself (see `killLeftovers`). */
  killLeftovers(h: ProcessHandle): Promise<void>;
  /** /proc/<pid>/stat, undefined when there is no such process. */
  readStat(pid: number): ProcStat | undefined;
}

/** The real OS: spawn.ts, output.ts, handle.ts, signals.ts and proc.ts. */
export const realOs: OsPort = {
  async spawn(spec, ctx) {
    const plan = await prepareSpawn(spec);
    const { child, spooled } = await spawnRun(plan, ctx.store, ctx.id, ctx.logger);
    return { handle: ownChild(child, ctx.clock, { runMark: plan.runMark }), spooled };
  },
  adopt: (req, clock) => adoptProcess(req, clock),
  stop: (h, opts) => stopProcess(h, opts),
  killLeftovers: (h) => killLeftovers(h),
  readStat: (pid) => readStat(pid),
};
