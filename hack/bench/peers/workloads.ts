import { randomInt } from 'node:crypto';
import { realClock, sleep } from '../../../src/util/index.js';
import { progress } from '../lib.js';
import { pollUntil } from './child.js';
import { sleeps, type App, type Contender } from './contender.js';
import { cpuNs, daemonTree, statusBytes, TagScanner } from './proc.js';
import { contenderOf, tag, tagOf } from './sweep.js';

/**
 * The workloads, the same for every contender and judged from /proc alone: a TagScanner sees an
 * app run when a live pid carries its tag, and gone when none does (a zombie counts as gone).
 * Each takes the contender's index in the run (`ci`, the digit in its apps' tags) and sees only
 * that contender's apps, so the others may keep theirs running meanwhile (schedule.ts).
 */

export const LIMIT_MS = 120_000;
export const SETTLE_MS = 2_000;

export interface Sizes {
  readonly start: number;
  readonly trials: number;
  readonly restartPool: number;
  readonly kills: number;
  /** The kills come in this many blocks, the contenders taking turns between blocks. */
  readonly restartRounds: number;
  readonly idle: number;
  readonly idleSeconds: number;
}

export interface Usage {
  /** CPU time over the window. */
  readonly cpuMs: number;
  readonly cpuPercent: number;
  readonly peakRssMiB: number;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** A scanner that sees only contender `ci`'s apps. */
export function scanner(ci: number): TagScanner {
  return new TagScanner((argv) => {
    const t = tagOf(argv);
    return t !== undefined && contenderOf(t) === ci ? t : undefined;
  });
}

/**
 * Polls /proc every POLL_MS until `done`. A timer rather than every event-loop turn: on two cores a
 * busy poller would take the CPU the contender needs to do what is being timed.
 */
const POLL_MS = 1;

async function poll(done: () => boolean, what: string, limitMs: number): Promise<void> {
  await pollUntil(() => (done() ? true : undefined), what, { everyMs: POLL_MS, limitMs });
}

async function untilCount(s: TagScanner, want: (n: number) => boolean, what: string): Promise<void> {
  await poll(() => want(s.scan().size), what, LIMIT_MS);
}

export async function runAll(c: Contender, apps: readonly App[], s: TagScanner): Promise<void> {
  await c.startApps(apps);
  await untilCount(s, (n) => n >= apps.length, `${c.name}: ${apps.length} apps running`);
}

/** Stops every app; resolves with the moment /proc showed none left (before the unmeasured clear). */
export async function stopAll(c: Contender, s: TagScanner): Promise<number> {
  await c.stopApps();
  await untilCount(s, (n) => n === 0, `${c.name}: every app gone`);
  const goneAt = performance.now();
  await c.clear();
  return goneAt;
}

/** Request → all N tagged in /proc; request → none left. */
export async function startStop(c: Contender, ci: number, n: number): Promise<{ startMs: number; stopMs: number }> {
  const s = scanner(ci);
  const apps = sleeps(n, (i) => tag(ci, i));
  const t0 = performance.now();
  await runAll(c, apps, s);
  const startMs = performance.now() - t0;
  await sleep(realClock, SETTLE_MS);
  const t1 = performance.now();
  const goneAt = await stopAll(c, s);
  return { startMs, stopMs: goneAt - t1 };
}

/** A contender's running sleeps for the restart workload; stopped with `stopAll(c, pool.scanner)`. */
export interface Pool {
  readonly ci: number;
  readonly size: number;
  readonly scanner: TagScanner;
}

/** Starts `size` sleeps of contender `ci` and waits until all run (the caller lets them settle). */
export async function startPool(c: Contender, ci: number, size: number): Promise<Pool> {
  const s = scanner(ci);
  await runAll(
    c,
    sleeps(size, (i) => tag(ci, i)),
    s,
  );
  return { ci, size, scanner: s };
}

/** SIGKILL one of the pool's sleeps at a random moment, `kills` times; each time until its tag has a new pid. */
export async function killBlock(c: Contender, pool: Pool, kills: number): Promise<number[]> {
  const s = pool.scanner;
  const gaps: number[] = [];
  for (let k = 0; k < kills; k++) {
    // Spread phases: a random pause puts each kill at another point of the daemon's own timers.
    await sleep(realClock, randomInt(10, 300));
    const victim = tag(pool.ci, randomInt(0, pool.size));
    const old = s.scan().get(victim);
    if (old === undefined) throw new Error(`${c.name}: ${victim} is not running`);
    process.kill(old, 'SIGKILL');
    const t0 = performance.now();
    await poll(
      () => {
        const now = s.scan().get(victim);
        return now !== undefined && now !== old;
      },
      `${c.name}: ${victim} restarted`,
      30_000,
    );
    gaps.push(performance.now() - t0);
  }
  return gaps;
}

/** CPU and peak RSS of `root`'s tree minus the apps, over `seconds`, sampled every second. */
export async function sampleTree(root: number, s: TagScanner, seconds: number): Promise<Usage> {
  const treeNow = (): number[] => {
    const apps = new Set(s.scan().values());
    return daemonTree(root, (pid) => apps.has(pid));
  };
  const cpu = (list: readonly number[]): Map<number, number> => new Map(list.map((pid) => [pid, cpuNs(pid)]));
  const start = cpu(treeNow());
  const t0 = performance.now();
  let peak = 0;
  for (let i = 1; i <= seconds; i++) {
    await sleep(realClock, Math.max(0, t0 + i * 1000 - performance.now()));
    peak = Math.max(peak, treeNow().reduce((sum, pid) => sum + statusBytes(pid, 'VmRSS'), 0));
  }
  const end = cpu(treeNow());
  const elapsed = (performance.now() - t0) / 1000;
  let used = 0;
  for (const [pid, t] of end) used += t - (start.get(pid) ?? t);
  const cpuMs = used / 1e6;
  return { cpuMs, cpuPercent: cpuMs / 10 / elapsed, peakRssMiB: Math.max(peak, statusBytes(root, 'VmHWM')) / 2 ** 20 };
}

export async function idle(c: Contender, ci: number, sz: Sizes): Promise<Usage> {
  const s = scanner(ci);
  await runAll(
    c,
    sleeps(sz.idle, (i) => tag(ci, i)),
    s,
  );
  await sleep(realClock, SETTLE_MS);
  progress(`${c.name}: idle with ${sz.idle} sleeps for ${sz.idleSeconds} s`);
  const usage = await sampleTree(c.daemonPid(), s, sz.idleSeconds);
  await stopAll(c, s);
  return usage;
}
