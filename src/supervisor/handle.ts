import type { ChildProcess } from 'node:child_process';
import type { Clock, TimerHandle } from '../util/index.js';
import { isAlive, readStat } from './proc.js';

/** How a process ended. Both null for a process that was not our child (its status is the parent's). */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
}

/**
 * One running OS process as the supervisor sees it: our own child, or one adopted after a restart
 * of procmgr (or attached as unmanaged). Identity is pid + start time, so a reused pid is never
 * mistaken for ours.
 */
export interface ProcessHandle {
  readonly pid: number;
  /** The process group procmgr may signal as a whole; undefined for unmanaged processes. */
  readonly pgid: number | undefined;
  /** Start time in clock ticks since boot, from /proc/<pid>/stat (undefined if it exited before we could read it). */
  readonly startTimeTicks: number | undefined;
  readonly startedAt: number;
  /** The `PROCMGR_RUN` mark its descendants inherit (`killMode: tree` only), to find them once the tree is broken. */
  readonly runMark: string | undefined;
  /** Our child (exit code known, stdout/stderr piped) or adopted (polled through /proc). */
  readonly adopted: boolean;
  readonly child: ChildProcess | undefined;
  exit: ExitInfo | undefined;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Stops watching (for an adopted process: its poll timer). */
  dispose(): void;
}

/** Wraps our own child (spawned with `runMark` in its environment, if any); the exit is detected by its `exit` event. */
export function ownChild(child: ChildProcess, clock: Clock, opts: { runMark?: string | undefined } = {}): ProcessHandle {
  const pid = child.pid ?? -1;
  let settle: (e: ExitInfo) => void = () => undefined;
  const exited = new Promise<ExitInfo>((resolve) => (settle = resolve));
  const handle: ProcessHandle = {
    pid,
    pgid: pid,
    startTimeTicks: readStat(pid)?.startTimeTicks,
    startedAt: clock.now(),
    runMark: opts.runMark,
    adopted: false,
    child,
    exit: undefined,
    exited,
    dispose: () => undefined,
  };
  child.once('exit', (code, signal) => {
    handle.exit = { code, signal, at: clock.now() };
    settle(handle.exit);
  });
  return handle;
}

/**
 * Watches a process that is not our child: we cannot wait for it, so its exit is found by
 * polling /proc every `pollMs` (pid gone, zombie, or its start time changed).
 */
export function adoptProcess(
  opts: { pid: number; startTimeTicks: number; group: boolean; startedAt: number; pollMs: number; runMark?: string | undefined },
  clock: Clock,
): ProcessHandle {
  let settle: (e: ExitInfo) => void = () => undefined;
  const exited = new Promise<ExitInfo>((resolve) => (settle = resolve));
  let timer: TimerHandle | undefined;
  const handle: ProcessHandle = {
    pid: opts.pid,
    pgid: opts.group ? opts.pid : undefined,
    startTimeTicks: opts.startTimeTicks,
    startedAt: opts.startedAt,
    runMark: opts.runMark,
    adopted: true,
    child: undefined,
    exit: undefined,
    exited,
    dispose: () => timer?.cancel(),
  };
  const poll = (): void => {
    if (isAlive(opts.pid, opts.startTimeTicks)) {
      timer = clock.setTimer(poll, opts.pollMs);
      return;
    }
    handle.exit = { code: null, signal: null, at: clock.now() };
    settle(handle.exit);
  };
  poll();
  return handle;
}
