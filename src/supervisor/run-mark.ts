import { randomUUID } from 'node:crypto';
import { isLiveStat, listPids, readEnviron, readStat, type ProcStat } from './proc.js';

/**
 * The run mark of `killMode: tree`. Each run of such a process gets `PROCMGR_RUN=<random uuid>`
 * in its environment (appended, space-separated, to a value it inherits); every descendant inherits it, including one that left the group (setsid)
 * and one whose parent died (re-parented to init, no longer in the leader's tree). So the run's
 * processes can be found by scanning /proc/<pid>/environ after the leader is gone, which the
 * parent links cannot do.
 *
 * What escapes it: a process that clears or rewrites its environment before exec (`env -i`), or
 * overwrites the environ memory in place (setproctitle); one whose environ procmgr may not read
 * (another user's, a setuid program's, unless procmgr is root).
 */
export const RUN_MARK_VAR = 'PROCMGR_RUN';

/** A fresh mark for one run. The spawner calls it, once per run of a `tree` spec. */
export function newRunMark(): string {
  return randomUUID();
}

const MARK_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * True for a mark `newRunMark` could have made. Checked before a scan: an empty or foreign value
 * (a hand-edited state file) must not select every process that happens to carry the variable.
 */
export function isRunMark(value: unknown): value is string {
  return typeof value === 'string' && MARK_SHAPE.test(value);
}

const ENTRY = `\0${RUN_MARK_VAR}=`;

/** Every mark in the PROCMGR_RUN entries of the text of a /proc/<pid>/environ (whole words only). */
export function marksIn(environ: string): string[] {
  const text = `\0${environ}`;
  const found: string[] = [];
  for (let at = text.indexOf(ENTRY); at >= 0; at = text.indexOf(ENTRY, at + 1)) {
    const start = at + ENTRY.length;
    const end = text.indexOf('\0', start);
    for (const word of text.slice(start, end < 0 ? undefined : end).split(' ')) if (word !== '') found.push(word);
  }
  return found;
}

/**
 * Processes looked at per turn of the event loop. Small /proc reads do not wait on a disk, so
 * reading them synchronously in slices is cheaper than a round trip through the libuv pool for
 * each, and a slice between two turns keeps the loop free for timers, exits and the API.
 */
const SLICE = 64;

/** The next turn of the event loop (setImmediate is that turn, not a delay). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Request {
  readonly mark: string;
  /** Only processes started at or after this tick (the leader's start): no descendant is older. */
  readonly sinceTicks: number;
  readonly resolve: (found: ProcStat[]) => void;
  readonly reject: (err: unknown) => void;
}

let waiting: Request[] = [];
let scanning = false;

/**
 * Live processes that carry `PROCMGR_RUN=<mark>` and started at or after `sinceTicks`; procmgr
 * itself never. Each result is the stat read before its environ, so a caller that signals only
 * after `readStat` shows the same start time knows the mark belonged to that very process (the
 * pid may still be reused between that check and the kill; no pidfd from Node closes this).
 *
 * One scan of /proc at a time, in slices between turns of the event loop; the requests made
 * meanwhile share the next one, so many runs ending together (a crash of a set, a
 * shutdown) cost one or two scans, not one each. Rejects only when /proc cannot be read.
 */
export function findMarked(mark: string, sinceTicks = 0): Promise<ProcStat[]> {
  if (!isRunMark(mark)) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    waiting.push({ mark, sinceTicks, resolve, reject });
    if (!scanning) void drain(); // settles every request itself: never rejects
  });
}

async function drain(): Promise<void> {
  scanning = true;
  try {
    while (waiting.length > 0) {
      // Requests of this same turn (the stops of a shutdown, the exits of a crashed set) join in.
      await nextTurn();
      const batch = waiting;
      waiting = [];
      try {
        const found = await scan(batch);
        for (const r of batch) r.resolve(found.get(r.mark) ?? []);
      } catch (err) {
        for (const r of batch) r.reject(err);
      }
    }
  } finally {
    scanning = false;
  }
}

async function scan(batch: readonly Request[]): Promise<Map<string, ProcStat[]>> {
  const since = new Map<string, number>();
  for (const r of batch) since.set(r.mark, Math.min(r.sinceTicks, since.get(r.mark) ?? Infinity));
  const oldest = Math.min(...since.values());
  const found = new Map<string, ProcStat[]>();
  const pids = listPids();
  for (let i = 0; i < pids.length; i++) {
    if (i > 0 && i % SLICE === 0) await nextTurn();
    const pid = pids[i] ?? 0;
    if (pid === process.pid || pid <= 1) continue;
    // The stat first: a process that exits and gives its pid away after this read has a new start time.
    const stat = readStat(pid);
    if (!isLiveStat(stat) || stat.startTimeTicks < oldest) continue;
    const environ = readEnviron(pid);
    if (environ === undefined || !environ.includes(ENTRY.slice(1))) continue;
    for (const mark of new Set(marksIn(environ))) {
      const from = since.get(mark);
      if (from === undefined || stat.startTimeTicks < from) continue;
      const list = found.get(mark);
      if (list) list.push(stat);
      else found.set(mark, [stat]);
    }
  }
  return found;
}
