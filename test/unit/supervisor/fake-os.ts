import type { ProcessHandle, ExitInfo } from '../../../src/supervisor/handle.js';
import type { AdoptRequest, OsPort, SpawnedRun } from '../../../src/supervisor/os-port.js';
import type { ProcStat } from '../../../src/supervisor/proc.js';
import type { Clock } from '../../../src/util/index.js';

/** A handle whose exit the test decides (`FakeOs.exit`). */
export interface FakeHandle extends ProcessHandle {
  settle(e: ExitInfo): void;
}

function fakeHandle(pid: number, startedAt: number, adopted: boolean, startTimeTicks: number | undefined): FakeHandle {
  let resolve: (e: ExitInfo) => void = () => undefined;
  const exited = new Promise<ExitInfo>((r) => (resolve = r));
  const h: FakeHandle = {
    pid,
    pgid: pid,
    startTimeTicks,
    startedAt,
    runMark: undefined,
    adopted,
    child: undefined,
    exit: undefined,
    exited,
    dispose: () => undefined,
    settle: (e) => {
      if (h.exit) return;
      h.exit = e;
      resolve(e);
    },
  };
  return h;
}

/** A live /proc entry for `pid`. */
export function stat(pid: number, startTimeTicks: number): ProcStat {
  return { pid, comm: 'fake', state: 'S', ppid: 1, pgrp: pid, session: pid, utimeTicks: 0, stimeTicks: 0, startTimeTicks, rssPages: 0 };
}

/** A recording fake of the OS port: every call is logged in `calls`; processes exit when the test says so. */
export class FakeOs implements OsPort {
  readonly calls: string[] = [];
  /** The /proc the supervisor sees. */
  readonly procs = new Map<number, ProcStat>();
  readonly handles: FakeHandle[] = [];
  #nextPid = 1000;
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  spawn(_spec: unknown, ctx: { readonly id: string }): Promise<SpawnedRun> {
    const pid = this.#nextPid++;
    this.calls.push(`spawn ${ctx.id} ${pid}`);
    const h = fakeHandle(pid, this.#clock.now(), false, pid);
    this.handles.push(h);
    return Promise.resolve({ handle: h, spooled: false });
  }

  adopt(req: AdoptRequest): ProcessHandle {
    this.calls.push(`adopt ${req.pid}`);
    const h = fakeHandle(req.pid, req.startedAt, true, req.startTimeTicks);
    this.handles.push(h);
    return h;
  }

  stop(h: ProcessHandle, opts: { signal: NodeJS.Signals; kill?: boolean }): Promise<boolean> {
    this.calls.push(`stop ${h.pid} ${opts.kill ? 'SIGKILL' : opts.signal}`);
    const fake = this.handles.find((x) => x === h);
    fake?.settle({ code: null, signal: opts.kill ? 'SIGKILL' : opts.signal, at: this.#clock.now() });
    this.procs.delete(h.pid);
    return Promise.resolve(false);
  }

  killLeftovers(h: ProcessHandle): Promise<void> {
    this.calls.push(`leftovers ${h.pid}`);
    return Promise.resolve();
  }

  readStat(pid: number): ProcStat | undefined {
    return this.procs.get(pid);
  }

  /** The latest run exits by itself. */
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    const h = this.handles.at(-1);
    if (!h) throw new Error('no run to exit');
    h.settle({ code, signal, at: this.#clock.now() });
  }

  get spawns(): number {
    return this.calls.filter((c) => c.startsWith('spawn ')).length;
  }
}
