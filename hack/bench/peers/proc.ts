import { readdirSync, readFileSync } from 'node:fs';

/**
 * The one judge of the peers benchmark: what /proc shows, read the same way for every contender.
 * An app of the run is recognised by an argv element carrying the run's tag (see `tagArg`), so
 * nothing here depends on how a peer names, wraps or reports its children.
 */

/** One line of /proc/<pid>/stat, the fields the benchmark uses. */
export interface Stat {
  readonly state: string;
  readonly ppid: number;
}

export function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone meanwhile
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0] ?? '?', ppid: Number(f[1]) };
}

export function readArgv(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return raw.length === 0 ? undefined : raw.split('\0').slice(0, -1);
  } catch {
    return undefined;
  }
}

/**
 * CPU time of `pid`'s live threads in ns (/proc/<pid>/task/<tid>/schedstat): far finer than the
 * 10 ms ticks of /proc/<pid>/stat, which round a quiet daemon's 30 s to zero.
 */
export function cpuNs(pid: number): number {
  let sum = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        sum += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    return 0; // gone
  }
  return sum;
}

/** A `kB` field of /proc/<pid>/status in bytes, or 0 when the process is gone. */
export function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function pids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid > 0) out.push(pid);
  }
  return out;
}

const live = (pid: number): boolean => {
  const s = readStat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
};

// How long an untagged pid is read again: a child between fork and exec still shows its parent's
// argv, and on a loaded machine the exec can lag the fork by a lot.
const EXEC_WINDOW_MS = 5_000;

/**
 * Finds the run's tagged apps. A pid's argv is cached once it is tagged; an untagged pid is read
 * again on later scans for EXEC_WINDOW_MS after it was first seen.
 */
export class TagScanner {
  readonly #tagged = new Map<number, string>();
  readonly #untaggedSeen = new Map<number, number>();

  constructor(private readonly tagOf: (argv: readonly string[]) => string | undefined) {}

  /** Live tagged apps now: tag → pid (the newest pid when a tag appears twice). */
  scan(): Map<string, number> {
    const at = performance.now();
    const now = pids();
    const present = new Set(now);
    for (const pid of this.#tagged.keys()) if (!present.has(pid)) this.#tagged.delete(pid);
    for (const pid of this.#untaggedSeen.keys()) if (!present.has(pid)) this.#untaggedSeen.delete(pid);
    for (const pid of now) {
      if (this.#tagged.has(pid)) continue;
      const firstSeen = this.#untaggedSeen.get(pid);
      if (firstSeen !== undefined && at - firstSeen > EXEC_WINDOW_MS) continue;
      const argv = readArgv(pid);
      const tag = argv && this.tagOf(argv);
      if (tag === undefined) {
        if (firstSeen === undefined) this.#untaggedSeen.set(pid, at);
      } else {
        this.#untaggedSeen.delete(pid);
        this.#tagged.set(pid, tag);
      }
    }
    const out = new Map<string, number>();
    for (const [pid, tag] of this.#tagged) {
      if (!live(pid)) continue;
      const had = out.get(tag);
      if (had === undefined || pid > had) out.set(tag, pid);
    }
    return out;
  }
}

/** The daemon and its descendants, minus the apps (and what runs below them). */
export function daemonTree(root: number, isApp: (pid: number) => boolean): number[] {
  const children = new Map<number, number[]>();
  for (const pid of pids()) {
    const s = readStat(pid);
    if (!s || s.state === 'Z') continue;
    const list = children.get(s.ppid) ?? [];
    list.push(pid);
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) if (!isApp(c)) walk(c);
  };
  if (live(root)) walk(root);
  return out;
}

/** Pids (not this one) whose environment holds `needle` or whose argv `matches`. */
export function findMarked(needle: string, matches: (argv: readonly string[]) => boolean): number[] {
  const out: number[] = [];
  for (const pid of pids()) {
    if (pid === process.pid || !live(pid)) continue;
    const argv = readArgv(pid);
    if (argv && matches(argv)) {
      out.push(pid);
      continue;
    }
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(needle)) out.push(pid);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}
