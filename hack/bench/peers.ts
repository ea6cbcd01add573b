import type { Row, Target } from './lib.js';
import { Bare } from './peers/bare.js';
import type { Contender } from './peers/contender.js';
import { installPm2, installProcmgr, installSupervisor } from './peers/install.js';
import { Pm2 } from './peers/pm2.js';
import { Procmgr } from './peers/procmgr.js';
import { Supervisord } from './peers/supervisord.js';
import { leftovers, onSweep, sweep, sweepOnSignals } from './peers/sweep.js';
import { measureAll, type Figures } from './peers/schedule.js';
import type { Sizes } from './peers/workloads.js';

/**
 * Peers suite (issue #17): procmgr side by side with what its users would pick instead, in one
 * run, on the same workloads, each contender driven through its own normal interface and judged
 * from /proc the same way (peers/proc.ts):
 * - bare: a bare Node `spawn` loop in its own process (apps/bare-supervisor.ts), the floor; for
 *   probes, apps/bare-prober.ts doing the same 1 s HTTP GETs;
 * - procmgr: `npm pack` of the checkout installed into a cached prefix, the installed `procmgr run`
 *   with a config file in a temp dir, apps set through its HTTP API;
 * - procmgr@<rev> with `--baseline <rev>`: the same from a git revision (`git archive`, build, pack,
 *   install), so old and new run side by side;
 * - pm2: the npm package (pinned) in a cached prefix, PM2_HOME in a temp dir, its CLI;
 * - supervisord: Debian's package (peers/install-supervisor.sh), foreground, own config and socket.
 * Workloads: cold start to the control interface answering and start 200 sleeps until all run and
 * stop them (SIGTERM) until none is left (medians of `trials`); SIGKILL → a new pid, at random
 * moments among a pool of sleeps, in `restartRounds` blocks; the contenders take turns per trial
 * and per block (peers/schedule.ts), so load drift spreads over all of them; 100 idle sleeps: the
 * daemon's CPU and peak RSS (its process tree minus the apps); 100 tiny HTTP servers with 1 s liveness probes: CPU per check against the
 * bare prober. Ratio rows compare with procmgr; the targets are on them.
 *
 * How to run:
 *   npm run bench -- peers                       the figures (about 10 minutes)
 *   npm run bench -- peers --baseline 375547f    and that revision as a second procmgr
 *   npm run bench -- peers --quick               fewer processes and kills, 5 s idle: a dry run
 *   --only bare,procmgr,pm2,supervisord          a subset (the ratios need procmgr)
 * Needs root (or supervisord on PATH) for the supervisor install, and the npm registry the first
 * time; packs and installs are cached in ~/.cache/procmgr-bench (PROCMGR_BENCH_CACHE). Every
 * process is tagged and swept at the end, also after a failure or Ctrl-C. The figures are
 * from whatever else runs on the machine too: compare within one run.
 */

const FULL: Sizes = { start: 200, trials: 3, restartPool: 10, kills: 60, restartRounds: 3, idle: 100, idleSeconds: 30 };
// Two trials and two blocks, so a dry run takes turns too.
const QUICK: Sizes = { start: 40, trials: 2, restartPool: 5, kills: 10, restartRounds: 2, idle: 20, idleSeconds: 5 };

interface Options {
  readonly baseline?: string;
  readonly quick: boolean;
  readonly only?: ReadonlySet<string>;
}

function parse(args: readonly string[]): Options {
  let baseline: string | undefined;
  let quick = false;
  let only: Set<string> | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--quick') quick = true;
    else if (a === '--baseline' || a === '--only') {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      if (a === '--baseline') baseline = v;
      else only = new Set(v.split(','));
    } else throw new Error(`peers: unknown argument ${a} (known: --baseline <rev>, --quick, --only <names>)`);
  }
  return { ...(baseline === undefined ? {} : { baseline }), quick, ...(only ? { only } : {}) };
}

function contenders(o: Options): Contender[] {
  const want = (name: string): boolean => o.only === undefined || o.only.has(name);
  const out: Contender[] = [];
  if (want('bare')) out.push(new Bare());
  if (want('procmgr')) out.push(new Procmgr(installProcmgr()));
  if (o.baseline !== undefined) out.push(new Procmgr(installProcmgr(o.baseline)));
  if (want('pm2')) out.push(new Pm2(installPm2()));
  if (want('supervisord')) {
    installSupervisor();
    out.push(new Supervisord());
  }
  return out;
}

const AT_MOST = (value: number): Target => ({ op: '<=', value });
const AT_LEAST = (value: number): Target => ({ op: '>=', value });
// A change may cost procmgr at most 10 % on any figure, against the baseline in the same run.
const NO_WORSE = AT_MOST(1.1);

interface Metric {
  readonly label: string;
  readonly n: number;
  readonly unit: string;
  readonly pick: (f: Figures) => number | undefined;
  /** Targets of peer / procmgr, by peer name. */
  readonly peers?: Readonly<Record<string, Target>>;
  /** Target of procmgr / bare (for restarts: procmgr − bare, in the unit). */
  readonly bare?: Target;
  readonly bareDiff?: boolean;
}

function rows(results: ReadonlyMap<string, Figures>, sz: Sizes, baseline: string | undefined): Row[] {
  const metrics: Metric[] = [
    { label: 'cold start → control answers', n: sz.trials, unit: 'ms', pick: (f) => f.coldMs },
    { label: `start ${sz.start}`, n: sz.start, unit: 'ms', pick: (f) => f.startMs, peers: { pm2: AT_LEAST(3), supervisord: AT_LEAST(3) }, bare: AT_MOST(1.25) },
    { label: `stop ${sz.start}`, n: sz.start, unit: 'ms', pick: (f) => f.stopMs, peers: { pm2: AT_LEAST(3), supervisord: AT_LEAST(3) }, bare: AT_MOST(1.5) },
    { label: 'restart p50', n: sz.kills, unit: 'ms', pick: (f) => f.restartP50, peers: { pm2: AT_LEAST(1) }, bare: AT_MOST(5), bareDiff: true },
    { label: 'restart p99', n: sz.kills, unit: 'ms', pick: (f) => f.restartP99 },
    { label: `idle ${sz.idle} sleeps: daemon CPU`, n: sz.idle, unit: '% of a core', pick: (f) => f.idle.cpuPercent, peers: { pm2: AT_LEAST(1), supervisord: AT_LEAST(1) } },
    { label: `idle ${sz.idle} sleeps: daemon peak RSS`, n: sz.idle, unit: 'MiB', pick: (f) => f.idle.peakRssMiB, peers: { pm2: AT_LEAST(1) } },
    { label: `probes ${sz.idle}×1 s: CPU`, n: sz.idle, unit: '% of a core', pick: (f) => f.probe?.cpuPercent },
    { label: `probes ${sz.idle}×1 s: CPU per check`, n: sz.idle, unit: 'µs', pick: (f) => f.probe?.usPerCheck, bare: AT_MOST(0.6) },
    { label: `probes ${sz.idle}×1 s: peak RSS`, n: sz.idle, unit: 'MiB', pick: (f) => f.probe?.peakRssMiB },
  ];
  const base = baseline === undefined ? undefined : `procmgr@${baseline}`;
  const out: Row[] = [];
  for (const m of metrics) {
    const value = (name: string): number | undefined => {
      const f = results.get(name);
      return f ? m.pick(f) : undefined;
    };
    for (const name of results.keys()) {
      const v = value(name);
      if (v !== undefined) out.push({ metric: `${m.label}: ${name}`, n: m.n, value: v, unit: m.unit });
    }
    const p = value('procmgr');
    if (p === undefined) continue;
    const bare = value('bare');
    if (bare !== undefined) {
      const diff = m.bareDiff === true;
      out.push({
        metric: `${m.label}: procmgr ${diff ? '−' : '/'} bare`,
        n: m.n,
        value: diff ? p - bare : p / bare,
        unit: diff ? m.unit : '×',
        ...(m.bare ? { target: m.bare } : {}),
      });
    }
    const old = base === undefined ? undefined : value(base);
    if (old !== undefined) out.push({ metric: `${m.label}: procmgr / ${base}`, n: m.n, value: p / old, unit: '×', target: NO_WORSE });
    for (const peer of ['pm2', 'supervisord']) {
      const v = value(peer);
      const target = m.peers?.[peer];
      if (v !== undefined) out.push({ metric: `${m.label}: ${peer} / procmgr`, n: m.n, value: v / p, unit: '×', ...(target ? { target } : {}) });
    }
  }
  return out;
}

export async function run(args: readonly string[] = []): Promise<Row[]> {
  const o = parse(args);
  const sz = o.quick ? QUICK : FULL;
  const stopSweeping = sweepOnSignals();
  const results = new Map<string, Figures>();
  let failure: Error | undefined;
  try {
    const list = contenders(o);
    // Also on Ctrl-C: the daemons are asked to stop before the sweep kills what is left.
    const shutdownAll = async (): Promise<void> => {
      for (const c of list) await c.shutdown().catch((err: unknown) => console.error(`  … ${c.name}: shutdown failed: ${String(err)}`));
    };
    const forget = onSweep(shutdownAll);
    try {
      for (const [name, f] of await measureAll(list, sz)) results.set(name, f);
    } finally {
      forget();
      await shutdownAll();
    }
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
  }
  const left = await sweep();
  stopSweeping();
  if (failure !== undefined) throw failure;
  if (left.length > 0) throw new Error(`${left.length} processes of this run survived the sweep (pids ${left.join(', ')})`);
  if (leftovers().length > 0) throw new Error('processes of this run reappeared after the sweep');
  return rows(results, sz, o.baseline);
}
