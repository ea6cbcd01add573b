import { fileURLToPath } from 'node:url';
import { realClock, sleep } from '../../../src/util/index.js';
import { freePorts } from '../daemon.js';
import { progress } from '../lib.js';
import { pollUntil, Spawned } from './child.js';
import { servers, type Contender, type ProbeCount } from './contender.js';
import { tag } from './sweep.js';
import { LIMIT_MS, runAll, sampleTree, scanner, SETTLE_MS, stopAll, type Sizes, type Usage } from './workloads.js';

/**
 * The probe workload: 1 s HTTP liveness checks on tiny servers, CPU per check, for contenders
 * with probes (their own) and for the bare loop (apps/bare-prober.ts doing the same checks).
 * A failed check inside the window fails the run: its figure would count something else.
 */

const BARE_PROBER = fileURLToPath(new URL('../apps/bare-prober.ts', import.meta.url));

/**
 * Passes in a row every app has before the window opens. A failure resets that run, so inside the
 * window it leaves the run short of the checks by at least this much, far beyond the one check
 * that may land between the two requests of a snapshot.
 */
const MIN_RUN = 3;

export type ProbeFigures = Usage & { readonly checks: number; readonly usPerCheck: number };

/** The apps whose checks in the window were not all passes (empty when all were). */
function failedInWindow(before: ReadonlyMap<string, ProbeCount>, after: ReadonlyMap<string, ProbeCount>): string[] {
  const out: string[] = [];
  for (const [id, b] of before) {
    const a = after.get(id);
    if (a === undefined) {
      out.push(`${id} is gone`);
      continue;
    }
    const ran = a.checks - b.checks;
    const passed = a.passedInARow - b.passedInARow;
    if (ran - passed > 1) out.push(`${id}: ${ran} checks but its run of passes went ${b.passedInARow} → ${a.passedInARow}`);
  }
  return out;
}

/** The contender's own probes on tiny servers: its CPU per check. */
export async function probing(c: Contender, ci: number, sz: Sizes): Promise<ProbeFigures | undefined> {
  const counts = c.probeCounts?.bind(c);
  if (!counts) return undefined;
  const s = scanner(ci);
  await runAll(c, servers(await freePorts(sz.idle), (i) => tag(ci, i)), s);
  // The probes' initial delay is over and every server has a run of passes before the window opens.
  const ready = (now: ReadonlyMap<string, ProbeCount>): boolean => now.size >= sz.idle && [...now.values()].every((p) => p.passedInARow >= MIN_RUN);
  await pollUntil(async () => (ready(await counts()) ? true : undefined), `${c.name}: ${MIN_RUN} liveness checks in a row passing on every server`, {
    everyMs: 500,
    limitMs: LIMIT_MS,
  });
  await sleep(realClock, SETTLE_MS);
  progress(`${c.name}: idle with ${sz.idle} probed servers for ${sz.idleSeconds} s`);
  const before = await counts();
  const usage = await sampleTree(c.daemonPid(), s, sz.idleSeconds);
  const after = await counts();
  await stopAll(c, s);
  const failed = ready(before) ? failedInWindow(before, after) : ['a check failed just before the window'];
  if (failed.length > 0) {
    throw new Error(
      `${c.name}: liveness checks failed inside the ${sz.idleSeconds} s window (${failed.length} of ${before.size} servers), so CPU per check would be wrong: ${failed.slice(0, 5).join('; ')}`,
    );
  }
  let checks = 0;
  for (const [id, b] of before) checks += (after.get(id)?.checks ?? b.checks) - b.checks;
  if (checks === 0) throw new Error(`${c.name}: no liveness check finished in the ${sz.idleSeconds} s window`);
  return { ...usage, checks, usPerCheck: (usage.cpuMs * 1000) / checks };
}

/** hack/bench/apps/bare-prober.ts doing the same checks on tiny servers that the bare loop runs. */
export async function bareProbing(c: Contender, ci: number, sz: Sizes): Promise<ProbeFigures> {
  const s = scanner(ci);
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
    if (last.failed !== first.failed) throw new Error(`the bare prober saw ${last.failed - first.failed} failed checks in the window, so CPU per check would be wrong`);
    const checks = last.checks - first.checks;
    return { ...usage, checks, usPerCheck: (usage.cpuMs * 1000) / checks };
  } finally {
    await prober.stop(5_000);
    await stopAll(c, s);
  }
}
