import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSupervisedManager, type SupervisorEvent } from '../../src/supervisor/index.js';
import { realClock, sleep } from '../../src/util/index.js';
import { median, progress, type Row } from './lib.js';

/**
 * Supervisor suite: procmgr against the physical limit measured in the same run, a bare
 * `child_process.spawn`/kill loop with no manager. Every figure is the median of TRIALS runs
 * (RESTART_TRIALS for restarts) after WARMUPS unmeasured ones (the stop path runs once per trial,
 * so V8 needs a few to compile it); each run uses a fresh manager and leaves no process behind.
 */

const N = 200;
// The stop of 200 sleeps is short on either side, and single trials of the ratio spread widely
// on a small shared machine: the medians need more trials than the restart loop,
// whose 200 crashes per trial already average out.
const TRIALS = 15;
const RESTART_TRIALS = 9;
const WARMUPS = 3;
const CRASHES = 200;
const LIMIT_MS = 60_000;
// Stops start from a quiet machine on both sides: 200 fresh execs are still settling when the
// last one reports, and that tail is start cost, not stop cost.
const SETTLE_MS = 200;

function quiesce(): Promise<void> {
  return sleep(realClock, SETTLE_MS);
}
// Spawned exactly as the supervisor does: own process group, stdin ignored, output piped.
const SPAWN_OPTS: SpawnOptions = { detached: true, stdio: ['ignore', 'pipe', 'pipe'] };
const SLEEP = { command: 'sleep', args: ['1000'] };
// A crash: exits 1 at once. No shell, so both sides time exactly one exec.
const CRASHER = 'false';

/** Counts events and stamps the moment the count reaches `target`; `wait` resolves then (or fails after LIMIT_MS). */
class Latch {
  count = 0;
  at: number | undefined;
  #resolve: () => void = () => undefined;
  readonly #done = new Promise<void>((resolve) => (this.#resolve = resolve));

  constructor(private readonly target: number) {}

  hit(): void {
    if (++this.count !== this.target) return;
    this.at = performance.now();
    this.#resolve();
  }

  async wait(what: string): Promise<number> {
    const ac = new AbortController();
    const timeout = sleep(realClock, LIMIT_MS, ac.signal).then(() => {
      throw new Error(`timed out after ${LIMIT_MS} ms waiting for ${what} (${this.count}/${this.target})`);
    });
    try {
      await Promise.race([this.#done, timeout]);
    } finally {
      ac.abort();
      void timeout.catch(() => undefined);
    }
    return this.at ?? Number.NaN;
  }
}

function makeIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `sleep-${i}`);
}

// ---- bare loop ---------------------------------------------------------------------------

/** Spawns N sleeps, then SIGTERMs every group; both times until the last `spawn` / `exit` event. */
async function bareStartStop(n: number): Promise<{ startMs: number; stopMs: number }> {
  const spawned = new Latch(n);
  const exited = new Latch(n);
  const children: ChildProcess[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const child = spawn(SLEEP.command, SLEEP.args, SPAWN_OPTS);
    child.once('spawn', () => spawned.hit());
    child.once('exit', () => exited.hit());
    child.stdout?.resume();
    child.stderr?.resume();
    children.push(child);
  }
  const startMs = (await spawned.wait(`${n} bare spawns`)) - t0;
  await quiesce();
  const t1 = performance.now();
  for (const child of children) process.kill(-(child.pid ?? 0), 'SIGTERM');
  const stopMs = (await exited.wait(`${n} bare exits`)) - t1;
  return { startMs, stopMs };
}

/** spawn() call → `spawn` event of CRASHER, one at a time (as restarts are), waiting for each exit. */
async function bareSpawnLatency(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const done = new Latch(2);
    const t0 = performance.now();
    const child = spawn(CRASHER, [], SPAWN_OPTS);
    child.once('spawn', () => {
      out.push(performance.now() - t0);
      done.hit();
    });
    child.once('exit', () => done.hit());
    child.stdout?.resume();
    child.stderr?.resume();
    await done.wait('a bare spawn and exit');
  }
  return out;
}

// ---- procmgr -----------------------------------------------------------------------------

/** 200 creates → 200 Running; then terminate all (Promise.all of `terminate`). */
async function procmgrStartStop(n: number, stateDir?: string): Promise<{ startMs: number; stopMs: number }> {
  const running = new Latch(n);
  const onEvent = (e: SupervisorEvent): void => {
    if (e.type === 'state' && e.to === 'Running') running.hit();
  };
  const { manager } = createSupervisedManager({
    supervisor: { onEvent, ...(stateDir === undefined ? {} : { stateDir }) },
    manager: { resyncIntervalMs: 60_000 },
  });
  const ids = makeIds(n);
  try {
    const t0 = performance.now();
    for (const id of ids) manager.updateProcess({ id, type: 'create', config: { ...SLEEP, stopGracePeriod: '10s' } });
    const startMs = (await running.wait(`${n} Running`)) - t0;
    await quiesce();
    const t1 = performance.now();
    await Promise.all(ids.map((id) => manager.terminate(id)));
    const stopMs = performance.now() - t1;
    return { startMs, stopMs };
  } finally {
    await manager.shutdown({ deadlineMs: 20_000 });
  }
}

/** One always-restarting crasher (delay 0, no breaker): `exited` → next `started`, CRASHES times. */
async function procmgrRestartLatency(crashes: number): Promise<number[]> {
  const gaps: number[] = [];
  const enough = new Latch(crashes);
  let exitedAt: number | undefined;
  const onEvent = (e: SupervisorEvent): void => {
    if (e.type === 'exited') exitedAt = performance.now();
    else if (e.type === 'started' && exitedAt !== undefined) {
      gaps.push(performance.now() - exitedAt);
      exitedAt = undefined;
      enough.hit();
    }
  };
  const { manager } = createSupervisedManager({ supervisor: { onEvent }, manager: { resyncIntervalMs: 60_000 } });
  try {
    manager.updateProcess({
      id: 'crasher',
      type: 'create',
      config: { command: CRASHER, restart: { policy: 'always', delay: 0, breaker: { maxFailures: 0 } } },
    });
    await enough.wait(`${crashes} restarts`);
    await manager.terminate('crasher');
  } finally {
    await manager.shutdown({ deadlineMs: 20_000 });
  }
  return gaps.slice(0, crashes);
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

// ---- cleanup -----------------------------------------------------------------------------

// What this suite spawns; other children of ours (tsx's esbuild service) are not its business.
const OURS = new Set([path.basename(SLEEP.command), CRASHER]);

/** Our live children running a command of this suite (not zombies), by a /proc scan. */
function liveChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid …"
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(ppid) === process.pid && state !== 'Z' && OURS.has(comm)) out.push(Number(name));
  }
  return out;
}

/** Kills any survivors (their whole group) and fails the run if there were some. */
async function expectNoChildren(after: string): Promise<void> {
  let left = liveChildren();
  for (let i = 0; i < 50 && left.length > 0; i++) {
    await sleep(realClock, 20); // exits already signalled may still be in flight
    left = liveChildren();
  }
  if (left.length === 0) return;
  for (const pid of left) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      process.kill(pid, 'SIGKILL');
    }
  }
  throw new Error(`${left.length} processes survived ${after} (pids ${left.slice(0, 10).join(', ')}…); killed them`);
}

// ---- suite -------------------------------------------------------------------------------

interface Trial {
  readonly bare: { startMs: number; stopMs: number };
  readonly procmgr: { startMs: number; stopMs: number };
  readonly stateDir: { startMs: number; stopMs: number };
}

async function trial(): Promise<Trial> {
  const bare = await bareStartStop(N);
  await expectNoChildren('the bare loop');
  const procmgr = await procmgrStartStop(N);
  await expectNoChildren('procmgr');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'procmgr-bench-'));
  try {
    const stateDir = await procmgrStartStop(N, dir);
    await expectNoChildren('procmgr with a state dir');
    return { bare, procmgr, stateDir };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function restartTrial(): Promise<{ bareP50: number; p50: number; p99: number }> {
  const bare = await bareSpawnLatency(CRASHES);
  const gaps = await procmgrRestartLatency(CRASHES);
  await expectNoChildren('the restart loop');
  return { bareP50: percentile(bare, 50), p50: percentile(gaps, 50), p99: percentile(gaps, 99) };
}

export async function run(): Promise<Row[]> {
  await expectNoChildren('nothing (before the suite)');
  for (let i = 0; i < WARMUPS; i++) {
    progress(`warm-up (${i + 1}/${WARMUPS})`);
    await trial();
  }
  await restartTrial();

  const trials: Trial[] = [];
  for (let i = 0; i < TRIALS; i++) {
    progress(`start/stop N=${N} (${i + 1}/${TRIALS})`);
    trials.push(await trial());
  }
  const restarts: { bareP50: number; p50: number; p99: number }[] = [];
  for (let i = 0; i < RESTART_TRIALS; i++) {
    progress(`restart latency ×${CRASHES} (${i + 1}/${RESTART_TRIALS})`);
    restarts.push(await restartTrial());
  }

  const m = (pick: (t: Trial) => number): number => median(trials.map(pick));
  const bareStart = m((t) => t.bare.startMs);
  const bareStop = m((t) => t.bare.stopMs);
  const start = m((t) => t.procmgr.startMs);
  const stop = m((t) => t.procmgr.stopMs);
  const stopRatios = trials.map((t) => t.procmgr.stopMs / t.bare.stopMs);
  const bareSpawnP50 = median(restarts.map((r) => r.bareP50));
  const restartP50 = median(restarts.map((r) => r.p50));
  const ratio = { op: '<=', value: 1.25 } as const;
  return [
    { metric: 'bare spawn → all spawned (sleep)', n: N, value: bareStart, unit: 'ms' },
    { metric: 'procmgr create → all Running', n: N, value: start, unit: 'ms' },
    { metric: 'start: procmgr / bare', n: N, value: start / bareStart, unit: '×', target: ratio },
    { metric: 'bare SIGTERM → all exited', n: N, value: bareStop, unit: 'ms' },
    { metric: 'procmgr terminate all → resolved', n: N, value: stop, unit: 'ms' },
    { metric: 'stop: procmgr / bare', n: N, value: stop / bareStop, unit: '×', target: ratio },
    { metric: 'stop: procmgr / bare of single trials, lowest', n: N, value: Math.min(...stopRatios), unit: '×' },
    { metric: 'stop: procmgr / bare of single trials, highest', n: N, value: Math.max(...stopRatios), unit: '×' },
    { metric: 'procmgr create → all Running (stateDir)', n: N, value: m((t) => t.stateDir.startMs), unit: 'ms' },
    { metric: 'procmgr terminate all (stateDir)', n: N, value: m((t) => t.stateDir.stopMs), unit: 'ms' },
    { metric: `bare spawn latency p50 (${CRASHER})`, n: CRASHES, value: bareSpawnP50, unit: 'ms' },
    {
      metric: 'restart latency p50 (exited → started, delay 0)',
      n: CRASHES,
      value: restartP50,
      unit: 'ms',
      target: { op: '<=', value: bareSpawnP50 + 5 },
    },
    { metric: 'restart latency p99 (exited → started, delay 0)', n: CRASHES, value: median(restarts.map((r) => r.p99)), unit: 'ms' },
  ];
}
