import { realClock, sleep } from '../../../src/util/index.js';
import { median, progress } from '../lib.js';
import type { Contender } from './contender.js';
import { bareProbing, probing, type ProbeFigures } from './probing.js';
import { idle, killBlock, percentile, SETTLE_MS, startPool, startStop, stopAll, type Pool, type Sizes, type Usage } from './workloads.js';

/**
 * The order of the run. Load from outside drifts over minutes, so the repeated workloads take
 * turns: each trial of cold start and of start/stop runs every contender once, and each block of
 * kills every contender once, in an order rotated per trial so no contender always goes first.
 * The idle and probe windows (long, one each) run one contender after another.
 */

export interface Figures {
  readonly coldMs: number;
  readonly startMs: number;
  readonly stopMs: number;
  readonly restartP50: number;
  readonly restartP99: number;
  readonly idle: Usage;
  /** With a 1 s HTTP liveness probe on each of `sizes.idle` tiny servers (probing contenders and the bare prober). */
  readonly probe?: ProbeFigures;
}

/** A contender and its index in the run (the digit in its apps' tags). */
interface Entry {
  readonly c: Contender;
  readonly ci: number;
}

/** Trial `i`'s order: the list rotated by `i`. */
function turn(list: readonly Entry[], i: number): Entry[] {
  const k = i % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** `total` split into `parts` blocks that differ by at most one. */
function blocks(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, r) => Math.floor((total * (r + 1)) / parts) - Math.floor((total * r) / parts));
}

/** Values collected per contender. */
class PerContender<T> {
  readonly #m = new Map<Contender, T[]>();
  add(c: Contender, ...values: T[]): void {
    const list = this.#m.get(c) ?? [];
    list.push(...values);
    this.#m.set(c, list);
  }
  of(c: Contender): T[] {
    return this.#m.get(c) ?? [];
  }
}

/**
 * Every workload on every contender of `list`, in the order above. Each daemon is booted and shut
 * down once per cold-start trial, then booted for the workloads and shut down after its idle and
 * probe windows. A failure leaves daemons up: the caller shuts every contender down (shutdown is
 * idempotent), also on Ctrl-C.
 */
export async function measureAll(list: readonly Contender[], sz: Sizes): Promise<Map<string, Figures>> {
  const entries = list.map((c, ci) => ({ c, ci }));
  const cold = new PerContender<number>();
  for (let i = 0; i < sz.trials; i++) {
    for (const { c } of turn(entries, i)) {
      progress(`${c.name}: cold start (${i + 1}/${sz.trials})`);
      cold.add(c, await c.boot());
      await c.shutdown();
    }
  }

  progress('booting every daemon for the workloads');
  for (const { c } of entries) await c.boot();
  const runs = new PerContender<{ startMs: number; stopMs: number }>();
  for (let i = 0; i < sz.trials; i++) {
    for (const { c, ci } of turn(entries, i)) {
      progress(`${c.name}: start/stop ${sz.start} sleeps (${i + 1}/${sz.trials})`);
      runs.add(c, await startStop(c, ci, sz.start));
    }
  }

  // Every contender's pool runs throughout, so a block is only kills, no start-up to wait for.
  const pools = new Map<Contender, Pool>();
  for (const { c, ci } of entries) pools.set(c, await startPool(c, ci, sz.restartPool));
  await sleep(realClock, SETTLE_MS);
  const gaps = new PerContender<number>();
  for (const [r, kills] of blocks(sz.kills, sz.restartRounds).entries()) {
    for (const { c } of turn(entries, r)) {
      const pool = pools.get(c);
      if (!pool) throw new Error(`${c.name}: no restart pool`);
      progress(`${c.name}: ${kills} SIGKILLs among ${sz.restartPool} sleeps (block ${r + 1}/${sz.restartRounds})`);
      gaps.add(c, ...(await killBlock(c, pool, kills)));
    }
  }
  for (const [c, pool] of pools) await stopAll(c, pool.scanner);

  const out = new Map<string, Figures>();
  for (const { c, ci } of entries) {
    const idleUsage = await idle(c, ci, sz);
    const probe = c.name === 'bare' ? await bareProbing(c, ci, sz) : c.probes ? await probing(c, ci, sz) : undefined;
    progress(`${c.name}: shutting down`);
    await c.shutdown();
    const g = gaps.of(c);
    out.set(c.name, {
      coldMs: median(cold.of(c)),
      startMs: median(runs.of(c).map((x) => x.startMs)),
      stopMs: median(runs.of(c).map((x) => x.stopMs)),
      restartP50: percentile(g, 50),
      restartP99: percentile(g, 99),
      idle: idleUsage,
      ...(probe ? { probe } : {}),
    });
  }
  return out;
}
