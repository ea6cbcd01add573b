import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import type { Daemon } from '../../src/daemon/index.js';
import { clientNodeApi, loadKubeConfig, PS, type ProcessSetApi } from '../../src/k8s/api.js';
import { createSidecar } from '../../src/daemon/sidecar.js';
import { realClock, sleep } from '../../src/util/index.js';
import { kubeCluster, kubectlAdmin, type KubeCluster } from '../../test/helpers/kube.js';
import { median, progress, waitUntil, type Row } from './lib.js';

/**
 * Kubernetes suite (issue #5): an in-process `procmgr sidecar` against the real kube-apiserver of
 * hack/kube, its ProcessSetApi wrapped so every request it makes is counted by kind.
 *
 * Edit → running: a ProcessSet of two `sleep`s, EDITS merge patches (admin client-node, in
 * process, so no kubectl start-up is timed) each changing one process's args, alternating; from
 * just before the PATCH to the sidecar's `started` event for it, and to the status (seen by an
 * admin watch) carrying the new pid; EDIT_GAP_MS apart, so one edit's status write does not hold
 * back the next's. Baseline in the same run: bare spawn('sleep') → 'spawn'.
 *
 * Steady: API requests over STEADY_SECONDS with no edits, once the edits' status writes and
 * Event aggregation have settled. Crash loop: `sh -c 'exit 3'` restarted every 100 ms for
 * STEADY_SECONDS, requests by kind and restarts. BENCH_K8S_STEADY_SECONDS shortens both windows for
 * a trial; recorded runs use 60.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UP = `${ROOT}hack/kube/up.sh`;
const DOWN = `${ROOT}hack/kube/down.sh`;
const CRD = `${ROOT}deploy/crd.yaml`;
const NS = `procmgr-bench-${process.pid}`;
const EDITS = 100;
const BARE_SPAWNS = 100;
const STEADY_SECONDS = Number(process.env.BENCH_K8S_STEADY_SECONDS ?? 60);
// The recorder aggregates Events for 10 s by default: past that, nothing the edits caused is still pending.
const SETTLE_MS = 12_000;
const EDIT_LIMIT_MS = 30_000;
const EDIT_GAP_MS = 1_100;

type Kind = 'list' | 'watch' | 'patchStatus' | 'createEvent' | 'patchEvent';
const KINDS: readonly Kind[] = ['list', 'watch', 'patchStatus', 'createEvent', 'patchEvent'];
type Counts = Record<Kind, number>;

/** The real API with a tally of every call the sidecar makes, by kind. */
function countingApi(inner: ProcessSetApi): { api: ProcessSetApi; counts: Counts; statusWrites: number[] } {
  const counts: Counts = { list: 0, watch: 0, patchStatus: 0, createEvent: 0, patchEvent: 0 };
  const statusWrites: number[] = [];
  const api: ProcessSetApi = {
    namespace: inner.namespace,
    name: inner.name,
    list: (signal) => (counts.list++, inner.list(signal)),
    watch: (rv, onEvent, done) => (counts.watch++, inner.watch(rv, onEvent, done)),
    patchStatus: (status, signal) => (counts.patchStatus++, statusWrites.push(performance.now()), inner.patchStatus(status, signal)),
    createEvent: (name, involved, body) => (counts.createEvent++, inner.createEvent(name, involved, body)),
    patchEvent: (name, patch) => (counts.patchEvent++, inner.patchEvent(name, patch)),
  };
  return { api, counts, statusWrites };
}

const diff = (a: Counts, b: Counts): Counts => Object.fromEntries(KINDS.map((k) => [k, a[k] - b[k]])) as Counts;
const total = (c: Counts, without: readonly Kind[] = []): number => KINDS.filter((k) => !without.includes(k)).reduce((s, k) => s + c[k], 0);

function runScript(script: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${script} ${args.join(' ')} exited ${code}`))));
  });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

interface Proc {
  id: string;
  command: string;
  args: string[];
  restart?: Record<string, unknown>;
}

function processSet(name: string, processes: readonly Proc[]): string {
  return JSON.stringify({ apiVersion: `${PS.group}/${PS.version}`, kind: 'ProcessSet', metadata: { name, namespace: NS }, spec: { processes } });
}

async function bareSpawnMs(): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < BARE_SPAWNS; i++) {
    const t0 = performance.now();
    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    times.push(performance.now() - t0);
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }
  return times;
}

async function startSidecar(cluster: KubeCluster, name: string): Promise<{ daemon: Daemon; counts: Counts; statusWrites: number[] }> {
  const { api, counts, statusWrites } = countingApi(clientNodeApi(loadKubeConfig(cluster.kubeconfig), NS, name));
  const daemon = createSidecar({ name, namespace: NS, api, listen: '127.0.0.1:0' });
  daemon.logger.level = 'warn';
  await daemon.start();
  return { daemon, counts, statusWrites };
}

export async function run(): Promise<Row[]> {
  const lease = String(process.pid);
  progress('starting (or reusing) the hack/kube cluster');
  await runScript(UP, ['--lease', lease]);
  const daemons: Daemon[] = [];
  let cluster: KubeCluster | undefined;
  try {
    cluster = await kubeCluster();
    const c = cluster;
    const kubectl = (args: readonly string[], input?: string): Promise<string> => kubectlAdmin(c, args, input);
    await kubectl(['apply', '-f', CRD]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/processsets.procmgr.dev']);
    await kubectl(['create', 'namespace', NS]);
    const admin = loadKubeConfig(c.kubeconfig);
    const custom = admin.makeApiClient(CustomObjectsApi);
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

    progress(`bare spawn('sleep') × ${BARE_SPAWNS}`);
    const bare = await bareSpawnMs();
    const bareP50 = median(bare);

    // ── edit → running ──
    const sleeper = (id: string, seconds: number): Proc => ({ id, command: 'sleep', args: [String(seconds)], restart: { delay: '100ms' } });
    const args = { a: 1000, b: 1000 };
    await kubectl(['apply', '-f', '-'], processSet('edits', [sleeper('a', args.a), sleeper('b', args.b)]));
    // The status as the API server has it, watched by the admin: every (time, id, pid) it showed.
    const statusSeen: { at: number; id: string; pid: number }[] = [];
    const statusWatch = await new Watch(admin).watch(
      `/apis/${PS.group}/${PS.version}/namespaces/${NS}/${PS.plural}`,
      { fieldSelector: 'metadata.name=edits' },
      (_type: string, obj: unknown) => {
        const at = performance.now();
        const procs = (obj as { status?: { processes?: { id: string; pid?: number }[] } }).status?.processes ?? [];
        for (const p of procs) if (p.pid !== undefined) statusSeen.push({ at, id: p.id, pid: p.pid });
      },
      () => undefined,
    );
    const edits = await startSidecar(c, 'edits');
    daemons.push(edits.daemon);
    const started: { at: number; id: string; pid: number }[] = [];
    edits.daemon.onEvent((e) => {
      if (e.type === 'started') started.push({ at: performance.now(), id: e.id, pid: e.pid });
    });
    const running = (id: string): number | undefined => edits.daemon.processes().find((p) => p.id === id && p.state === 'Running')?.pid;
    await waitUntil(() => running('a') !== undefined && running('b') !== undefined, 'a and b running');
    await waitUntil(() => ['a', 'b'].every((id) => statusSeen.some((s) => s.id === id && s.pid === running(id))), 'the first status');

    progress(`${EDITS} edits`);
    const toRunning: number[] = [];
    const toStatus: number[] = [];
    const toFirstWrite: number[] = [];
    for (let i = 0; i < EDITS; i++) {
      const id = i % 2 === 0 ? 'a' : 'b';
      args[id]++;
      const startedBefore = started.length;
      const t0 = performance.now();
      await custom.patchNamespacedCustomObject(
        { ...PS, namespace: NS, name: 'edits', body: { spec: { processes: [sleeper('a', args.a), sleeper('b', args.b)] } } },
        mergePatch,
      );
      await waitUntil(() => started.slice(startedBefore).some((s) => s.id === id), `edit ${i}: ${id} restarted`, EDIT_LIMIT_MS);
      const s = started.slice(startedBefore).find((x) => x.id === id)!;
      toRunning.push(s.at - t0);
      await waitUntil(() => statusSeen.some((x) => x.id === id && x.pid === s.pid), `edit ${i}: status shows pid ${s.pid}`, EDIT_LIMIT_MS);
      toStatus.push(statusSeen.find((x) => x.id === id && x.pid === s.pid)!.at - t0);
      toFirstWrite.push((edits.statusWrites.find((w) => w >= t0) ?? Number.NaN) - t0);
      // One edit's status writes must not delay the next one's: leave the coalescing interval (1 s) between them.
      await sleep(realClock, EDIT_GAP_MS);
    }
    statusWatch.abort();
    const afterEdits = { ...edits.counts };

    progress(`settling ${SETTLE_MS / 1000} s, then ${STEADY_SECONDS} s steady`);
    await sleep(realClock, SETTLE_MS);
    const steadyFrom = { ...edits.counts };
    const steadyT0 = performance.now();
    await sleep(realClock, STEADY_SECONDS * 1000);
    const steady = diff(edits.counts, steadyFrom);
    const steadyMinutes = (performance.now() - steadyT0) / 60_000;
    await edits.daemon.stop();
    daemons.splice(daemons.indexOf(edits.daemon), 1);

    // ── crash loop ──
    progress(`crash loop, ${STEADY_SECONDS} s`);
    const crasher: Proc = { id: 'crasher', command: 'sh', args: ['-c', 'exit 3'], restart: { delay: '100ms', maxDelay: '100ms', breaker: { maxFailures: 0 } } };
    await kubectl(['apply', '-f', '-'], processSet('crashy', [crasher]));
    const crash = await startSidecar(c, 'crashy');
    daemons.push(crash.daemon);
    let crashStarts = 0;
    crash.daemon.onEvent((e) => {
      if (e.type === 'started') crashStarts++;
    });
    const restarts = (): number => crash.daemon.processes().find((p) => p.id === 'crasher')?.restarts ?? 0;
    await waitUntil(() => crashStarts > 0, 'the crasher started');
    const crashFrom = { ...crash.counts };
    const restartsFrom = restarts();
    const startsFrom = crashStarts;
    const crashT0 = performance.now();
    await sleep(realClock, STEADY_SECONDS * 1000);
    const crashCounts = diff(crash.counts, crashFrom);
    const crashMinutes = (performance.now() - crashT0) / 60_000;
    const crashRestarts = restarts() - restartsFrom;
    const crashStarted = crashStarts - startsFrom;
    await crash.daemon.stop();
    daemons.splice(daemons.indexOf(crash.daemon), 1);

    console.error(`  edits: requests during the ${EDITS} edits ${JSON.stringify(afterEdits)}`);
    console.error(`  steady: ${JSON.stringify(steady)} over ${steadyMinutes.toFixed(2)} min`);
    console.error(`  crash loop: ${JSON.stringify(crashCounts)} over ${crashMinutes.toFixed(2)} min; restarts ${crashRestarts}, started events ${crashStarted}`);

    const perMin = (n: number, minutes: number): number => n / minutes;
    const beyondWatch = perMin(total(steady, ['watch']), steadyMinutes);
    return [
      { metric: "bare spawn('sleep') → 'spawn', p50", n: BARE_SPAWNS, value: bareP50, unit: 'ms' },
      { metric: 'edit → started event, p50', n: EDITS, value: median(toRunning), unit: 'ms' },
      { metric: 'edit → started event, p99', n: EDITS, value: percentile(toRunning, 99), unit: 'ms' },
      { metric: 'edit → started, p50, minus bare spawn p50', n: EDITS, value: median(toRunning) - bareP50, unit: 'ms', target: { op: '<=', value: 150 } },
      { metric: 'edit → status shows new pid, p50', n: EDITS, value: median(toStatus), unit: 'ms' },
      { metric: 'edit → status shows new pid, p99', n: EDITS, value: percentile(toStatus, 99), unit: 'ms' },
      { metric: "edit → sidecar's first status write, p50", n: EDITS, value: median(toFirstWrite), unit: 'ms' },
      { metric: 'requests during the edits (list+watch+status+events)', n: EDITS, value: total(afterEdits), unit: 'requests' },
      { metric: 'steady: requests/min beyond the watch', n: STEADY_SECONDS, value: beyondWatch, unit: 'req/min', target: { op: '<=', value: 1 } },
      { metric: 'steady: watches (re)opened', n: STEADY_SECONDS, value: steady.watch, unit: 'watches' },
      ...KINDS.map((k): Row => ({ metric: `crash loop: ${k} per minute`, n: STEADY_SECONDS, value: perMin(crashCounts[k], crashMinutes), unit: 'req/min' })),
      { metric: 'crash loop: restarts', n: STEADY_SECONDS, value: crashRestarts, unit: 'restarts' },
    ];
  } finally {
    for (const d of daemons.splice(0)) await d.stop().catch(() => undefined);
    if (cluster) await kubectlAdmin(cluster, ['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
    await runScript(DOWN, ['--release', lease]);
  }
}
