import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { realClock, sleep } from '../../../src/util/index.js';
import { freePorts } from '../daemon.js';
import { median, progress } from '../lib.js';
import { pollUntil, Spawned } from './child.js';
import { servers, sleeps, type App, type Contender } from './contender.js';
import { cpuNs, daemonTree, statusBytes, TagScanner } from './proc.js';
import { tag, tagOf } from './sweep.js';

/**
 * The workloads, the same for every contender and judged from /proc alone: a TagScanner sees an
 * app run when a live pid carries its tag, and gone when none does (a zombie counts as gone).
 */

const BARE_PROBER = fileURLToPath(new URL('../apps/bare-prober.ts', import.meta.url));
const LIMIT_MS = 120_000;
const SETTLE_MS = 2_000;

export interface Sizes {
  readonly start: number;
  readonly trials: number;
  readonly restartPool: number;
  readonly kills: number;
  readonly idle: number;
  readonly idleSeconds: number;
}

export interface Usage {
  /** CPU time over the window. */
  readonly cpuMs: number;
  readonly cpuPercent: number;
  readonly peakRssMiB: number;
}

export interface Figures {
  readonly coldMs: number;
  readonly startMs: number;
  readonly stopMs: number;
  readonly restartP50: number;
  readonly restartP99: number;
  readonly idle: Usage;
  /** With a 1 s HTTP liveness probe on each of `sizes.idle` tiny servers (probing contenders and the bare prober). */
  readonly probe?: Usage & { readonly checks: number; readonly usPerCheck: number };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const scanner = (): TagScanner => new TagScanner(tagOf);

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

async function runAll(c: Contender, apps: readonly App[], s: TagScanner): Promise<void> {
  await c.startApps(apps);
  await untilCount(s, (n) => n >= apps.length, `${c.name}: ${apps.length} apps running`);
}

/** Stops every app; resolves with the moment /proc showed none left (before the unmeasured clear). */
async function stopAll(c: Contender, s: TagScanner): Promise<number> {
  await c.stopApps();
  await untilCount(s, (n) => n === 0, `${c.name}: every app gone`);
  const goneAt = performance.now();
  await c.clear();
  return goneAt;
}

/** Request → all N tagged in /proc; request → none left. */
async function startStop(c: Contender, ci: number, n: number): Promise<{ startMs: number; stopMs: number }> {
  const s = scanner();
  const apps = sleeps(n, (i) => tag(ci, i));
  const t0 = performance.now();
  await runAll(c, apps, s);
  const startMs = performance.now() - t0;
  await sleep(realClock, SETTLE_MS);
  const t1 = performance.now();
  const goneAt = await stopAll(c, s);
  return { startMs, stopMs: goneAt - t1 };
}

/** SIGKILL one of `pool` running sleeps at a random moment, then the time until its tag has a new pid. */
async function restarts(c: Contender, ci: number, pool: number, kills: number): Promise<number[]> {
  const s = scanner();
  const apps = sleeps(pool, (i) => tag(ci, i));
  await runAll(c, apps, s);
  await sleep(realClock, SETTLE_MS);
  const gaps: number[] = [];
  for (let k = 0; k < kills; k++) {
    // Spread phases: a random pause puts each kill at another point of the daemon's own timers.
    await sleep(realClock, randomInt(10, 300));
    const victim = tag(ci, randomInt(0, pool));
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
  await stopAll(c, s);
  return gaps;
}

/** CPU and peak RSS of `root`'s tree minus the apps, over `seconds`, sampled every second. */
async function sampleTree(root: number, s: TagScanner, seconds: number): Promise<Usage> {
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

async function idle(c: Contender, ci: number, sz: Sizes): Promise<Usage> {
  const s = scanner();
  await runAll(c, sleeps(sz.idle, (i) => tag(ci, i)), s);
  await sleep(realClock, SETTLE_MS);
  progress(`${c.name}: idle with ${sz.idle} sleeps for ${sz.idleSeconds} s`);
  const usage = await sampleTree(c.daemonPid(), s, sz.idleSeconds);
  await stopAll(c, s);
  return usage;
}

/** The contender's own probes on tiny servers: its CPU per passed check. */
async function probing(c: Contender, ci: number, sz: Sizes): Promise<Figures['probe']> {
  const count = c.checks?.bind(c);
  if (!count) return undefined;
  const s = scanner();
  await runAll(c, servers(await freePorts(sz.idle), (i) => tag(ci, i)), s);
  // Every server has passed a check (the probes' initial delay is over) before the window opens.
  await pollUntil(async () => ((await count()) >= sz.idle ? true : undefined), `${c.name}: liveness checks passing`, { everyMs: 500, limitMs: LIMIT_MS });
  await sleep(realClock, SETTLE_MS);
  progress(`${c.name}: idle with ${sz.idle} probed servers for ${sz.idleSeconds} s`);
  const before = await count();
  const usage = await sampleTree(c.daemonPid(), s, sz.idleSeconds);
  const checks = (await count()) - before;
  await stopAll(c, s);
  // The API counts passes in a row: a failure inside the window would make this sum meaningless.
  if (checks < sz.idle) throw new Error(`${c.name}: only ${checks} liveness checks passed in the window (a failure resets the count)`);
  return { ...usage, checks, usPerCheck: (usage.cpuMs * 1000) / checks };
}

/** hack/bench/apps/bare-prober.ts doing the same checks on tiny servers that the bare loop runs. */
async function bareProbing(c: Contender, ci: number, sz: Sizes): Promise<Figures['probe']> {
  const s = scanner();
  const ports = await freePorts(sz.idle);
  await runAll(c, servers(ports, (i) => tag(ci, i)), s);
  const prober = new Spawned(process.execPath, [BARE_PROBER, ...ports.map(String)]);
  try {
    await sleep(realClock, SETTLE_MS + 3_000);
    // SIGUSR2 makes it print "checks <n> failed <m>".
    const counts = async (): Promise<{ checks: number; failed: number }> => {
      const had = prober.lines.length;
      process.kill(prober.pid, 'SIGUSR2');
      const line = await pollUntil(() => prober.lines.slice(had).find((l) => l.startsWith('checks ')), 'the bare prober to count', { everyMs: 5, limitMs: 5_000 });
      const m = /^checks (\d+) failed (\d+)$/.exec(line);
      return { checks: Number(m?.[1]), failed: Number(m?.[2]) };
    };
    // 100 Node start-ups on a busy machine: the first checks may find a server not yet listening.
    let first = await counts();
    for (let i = 0; i < 60; i++) {
      await sleep(realClock, 1_000);
      const next = await counts();
      const settled = next.failed === first.failed;
      first = next;
      if (settled) break;
    }
    progress(`bare prober: ${sz.idle} servers for ${sz.idleSeconds} s`);
    const usage = await sampleTree(prober.pid, s, sz.idleSeconds);
    const last = await counts();
    if (last.failed !== first.failed) throw new Error(`the bare prober saw ${last.failed - first.failed} failed checks in the window`);
    const checks = last.checks - first.checks;
    return { ...usage, checks, usPerCheck: (usage.cpuMs * 1000) / checks };
  } finally {
    await prober.stop(5_000);
    await stopAll(c, s);
  }
}

/** Every workload on one contender, its daemon booted first (the cold start) and shut down last. */
export async function measure(c: Contender, ci: number, sz: Sizes): Promise<Figures> {
  progress(`${c.name}: cold start`);
  const coldMs = await c.boot();
  const runs: { startMs: number; stopMs: number }[] = [];
  for (let i = 0; i < sz.trials; i++) {
    progress(`${c.name}: start/stop ${sz.start} sleeps (${i + 1}/${sz.trials})`);
    runs.push(await startStop(c, ci, sz.start));
  }
  progress(`${c.name}: ${sz.kills} SIGKILLs among ${sz.restartPool} sleeps`);
  const gaps = await restarts(c, ci, sz.restartPool, sz.kills);
  const idleUsage = await idle(c, ci, sz);
  const probe = c.name === 'bare' ? await bareProbing(c, ci, sz) : c.probes ? await probing(c, ci, sz) : undefined;
  return {
    coldMs,
    startMs: median(runs.map((r) => r.startMs)),
    stopMs: median(runs.map((r) => r.stopMs)),
    restartP50: percentile(gaps, 50),
    restartP99: percentile(gaps, 99),
    idle: idleUsage,
    ...(probe ? { probe } : {}),
  };
}
