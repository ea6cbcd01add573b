/**
 * Linux /proc primitives for the supervisor: process identity (start time guards against pid
 * reuse), liveness, process-tree and process-group membership, memory and open files.
 *
 * Assumptions, documented because `getconf` is unreliable where procmgr runs: clock ticks per
 * second (USER_HZ) are 100 and the page size is 4096 bytes; both hold for every mainstream
 * Linux architecture's user ABI. Descendants are found through /proc/<pid>/task/<tid>/children
 * where the kernel has it (CONFIG_PROC_CHILDREN, on in mainstream distributions' kernels), which
 * reads only the tree itself; elsewhere by scanning every /proc/<pid>/stat.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Clock ticks per second of the times in /proc/<pid>/stat (USER_HZ). */
export const CLOCK_TICKS_PER_SECOND = 100;
/** Bytes per page of `rssPages`. */
export const PAGE_SIZE_BYTES = 4096;

/** The fields of /proc/<pid>/stat the supervisor uses. Times are in clock ticks. */
export interface ProcStat {
  readonly pid: number;
  /** Executable name as the kernel keeps it (at most 15 bytes, may hold spaces and parentheses). */
  readonly comm: string;
  /** One letter: R running, S sleeping, D disk wait, Z zombie, T stopped, X dead, … */
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly session: number;
  readonly utimeTicks: number;
  readonly stimeTicks: number;
  /** Ticks after boot at which the process started: with the pid, a unique identity. */
  readonly startTimeTicks: number;
  readonly rssPages: number;
}

/**
 * Parses the text of a /proc/<pid>/stat file; undefined when it is malformed. `comm` may hold
 * spaces and parentheses, so it ends at the LAST ')'.
 */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // Fields after comm, so `rest[0]` is field 3 (state) of proc(5); field n is rest[n - 3].
  const rest = text.slice(close + 2).trim().split(' ');
  if (!Number.isInteger(pid) || rest.length < 22) return undefined;
  const num = (field: number): number => Number(rest[field - 3]);
  const stat: ProcStat = {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '',
    ppid: num(4),
    pgrp: num(5),
    session: num(6),
    utimeTicks: num(14),
    stimeTicks: num(15),
    startTimeTicks: num(22),
    rssPages: num(24),
  };
  return Number.isFinite(stat.startTimeTicks) && Number.isFinite(stat.ppid) ? stat : undefined;
}

/** True for the errors that mean "no such process (any more)" or "not ours to look at". */
function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM';
}

function statPath(pid: number): string {
  return `/proc/${pid}/stat`;
}

/**
 * Reads /proc/<pid>/stat; undefined when the process does not exist. Any caller, any time;
 * synchronous because a single small /proc read does not block on disk.
 */
export function readStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseStat(readFileSync(statPath(pid), 'utf8'));
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

/** The async variant of `readStat`, for callers on a hot event loop. */
export async function readStatAsync(pid: number): Promise<ProcStat | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseStat(await readFile(statPath(pid), 'utf8'));
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

/**
 * The text of /proc/<pid>/environ (the environment the process was exec'd with, NUL-separated);
 * undefined when it is gone or not ours to read (another user's, unless procmgr is root).
 */
export function readEnviron(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

/** Pids of every process in /proc (threads are not listed). */
export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) if (/^\d+$/.test(name)) pids.push(Number(name));
  return pids;
}

/** True when `stat` is a running (not zombie, not dead) process with the given start time, if any. */
export function isLiveStat(stat: ProcStat | undefined, startTimeTicks?: number): stat is ProcStat {
  if (stat === undefined || stat.state === 'Z' || stat.state === 'X' || stat.state === 'x') return false;
  return startTimeTicks === undefined || stat.startTimeTicks === startTimeTicks;
}

/**
 * True when `pid` exists, is not a zombie or dead, and (when given) started at `startTimeTicks`,
 * so a reused pid is never taken for the process we knew. Call before every signal.
 */
export function isAlive(pid: number, startTimeTicks?: number): boolean {
  return isLiveStat(readStat(pid), startTimeTicks);
}

/** Every process visible in /proc, in one scan; processes that vanish mid-scan are skipped. */
export function listStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const pid of listPids()) {
    const stat = readStat(pid);
    if (stat !== undefined) stats.push(stat);
  }
  return stats;
}

/**
 * All descendants of `pid` (children, grandchildren, …) by ppid links, from one scan (or the
 * `stats` given, to share a scan). Orphans re-parented to init or a subreaper are not included.
 */
export function descendantsOf(pid: number, stats: readonly ProcStat[] = listStats()): ProcStat[] {
  const { children } = indexOf(stats);
  const found: ProcStat[] = [];
  const seen = new Set<number>([pid]);
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      // pid 0's "children" are init and kthreadd, whose ppid is 0: the set guards every cycle.
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

let childrenFiles: boolean | undefined;

/** Whether this kernel has /proc/<pid>/task/<tid>/children. */
export function hasChildrenFiles(): boolean {
  childrenFiles ??= existsSync(`/proc/self/task/${process.pid}/children`);
  return childrenFiles;
}

/** Direct children of `pid` (forked by any of its threads); empty when it is gone. Needs `hasChildrenFiles()`. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch (err) {
    if (isGone(err)) return out;
    throw err;
  }
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch (err) {
      if (isGone(err)) continue; // the thread ended meanwhile
      throw err;
    }
    for (const part of text.split(' ')) if (part !== '' && part !== '\n') out.push(Number(part));
  }
  return out;
}

/**
 * Live descendants of `pid`, reading only its own tree when the kernel allows (stopping a process
 * without children costs two small reads instead of a scan of every process on the machine).
 */
export function liveDescendants(pid: number): ProcStat[] {
  if (!hasChildrenFiles()) return descendantsOf(pid).filter((s) => isLiveStat(s));
  const found: ProcStat[] = [];
  const seen = new Set<number>([pid]);
  const queue = childPids(pid);
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    const stat = readStat(next);
    if (!isLiveStat(stat)) continue;
    found.push(stat);
    queue.push(...childPids(next));
  }
  return found;
}

/** Members of process group `pgid` (the leader included while it lives), from one scan or `stats`. */
export function groupMembers(pgid: number, stats: readonly ProcStat[] = listStats()): ProcStat[] {
  return indexOf(stats).groups.get(pgid) ?? [];
}

interface ScanIndex {
  readonly children: Map<number, ProcStat[]>;
  readonly groups: Map<number, ProcStat[]>;
}

// One index per scan: stopping 200 processes from a shared scan walks it once, not 200 times.
const indexes = new WeakMap<readonly ProcStat[], ScanIndex>();

function indexOf(stats: readonly ProcStat[]): ScanIndex {
  let index = indexes.get(stats);
  if (index) return index;
  index = { children: new Map(), groups: new Map() };
  for (const s of stats) {
    push(index.children, s.ppid, s);
    push(index.groups, s.pgrp, s);
  }
  indexes.set(stats, index);
  return index;
}

function push(map: Map<number, ProcStat[]>, key: number, s: ProcStat): void {
  const list = map.get(key);
  if (list) list.push(s);
  else map.set(key, [s]);
}

/** Resident memory of `pid` from /proc/<pid>/status (VmRSS), in bytes; undefined when gone or a zombie. */
export function readRssBytes(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/** Open file descriptors of `pid`; undefined when it is gone or its fd table is not ours to read. */
export function countOpenFiles(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}
