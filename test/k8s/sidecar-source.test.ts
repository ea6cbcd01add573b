import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/daemon/index.js';
import { createSidecar } from '../../src/daemon/sidecar.js';
import { isAlive } from '../../src/supervisor/proc.js';
import { realClock, sleep } from '../../src/util/index.js';
import { advanceAndCompactEtcd, restartApiServer, withHungApiServer } from '../helpers/apiserver.js';
import { DaemonProcess, eventually } from '../helpers/daemon.js';
import { kubeCluster, kubectlAdmin, prepareNamespace, type KubeCluster } from '../helpers/kube.js';
import { tempDir } from '../helpers/supervised.js';

// The sidecar's source of desired state and its shutdown, against the real API server of
// hack/kube, including outages of it: run under /tmp/procmgr-k8s.lock (other worktrees share it).

let cluster: KubeCluster;
const NS = `procmgr-source-${process.pid}`;
const CRD = fileURLToPath(new URL('../../deploy/crd.yaml', import.meta.url));
const kubectl = (args: readonly string[], input?: string): Promise<string> => kubectlAdmin(cluster, args, input);

function processSet(name: string, processes: unknown[]): string {
  return JSON.stringify({ apiVersion: 'procmgr.dev/v1alpha1', kind: 'ProcessSet', metadata: { name, namespace: NS }, spec: { processes } });
}

async function statusOf(name: string): Promise<{ processes?: { id: string; state: string; restarts: number }[] } | undefined> {
  return (JSON.parse(await kubectl(['get', 'processset', name, '-n', NS, '-o', 'json'])) as { status?: { processes?: { id: string; state: string; restarts: number }[] } }).status;
}

const sleeper = (id: string, seconds = '1000'): Record<string, unknown> => ({ id, command: 'sleep', args: [seconds], restart: { delay: '100ms' } });

const sidecars: Daemon[] = [];
async function startSidecar(name: string, extra: Partial<Parameters<typeof createSidecar>[0]> = {}): Promise<Daemon> {
  const d = createSidecar({ name, namespace: NS, kubeconfig: cluster.kubeconfig, listen: '127.0.0.1:0', statusMinIntervalMs: 200, eventAggregateMs: 500, ...extra });
  d.logger.level = 'warn';
  sidecars.push(d);
  await d.start();
  return d;
}

const pidOf = (d: Daemon, id: string): number | undefined => d.processes().find((p) => p.id === id && p.state === 'Running')?.pid;

async function watchStats(d: Daemon): Promise<{ lists: number; relists410: number; errors: number }> {
  const res = await fetch(`http://${d.apiAddress}/healthz`);
  return ((await res.json()) as { watch: { lists: number; relists410: number; errors: number } }).watch;
}

beforeAll(async () => {
  cluster = await kubeCluster();
  await prepareNamespace(cluster, CRD, NS);
});

afterAll(async () => {
  for (const d of sidecars.splice(0)) await d.stop();
  await kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
});

describe('the sidecar against a real API server: source and shutdown', () => {
  it('SIGTERM with a hung API server stops the processes at once; the last status and Event writes get a bounded deadline', async () => {
    const dir = tempDir('procmgr-k8s-hung-');
    const out = join(dir, 'terminated-at');
    await kubectl(['apply', '-f', '-'], processSet('hung', [
      // Writes the time it got its stop signal.
      { id: 'recorder', command: 'sh', args: ['-c', 'trap "date +%s%3N > \\"$OUT\\"; exit 0" TERM; while :; do sleep 0.1; done'], env: { OUT: out } },
      // Keeps status and Events busy, so writes are pending and in flight when the server hangs.
      { id: 'crasher', command: 'sh', args: ['-c', 'sleep 0.2; exit 1'], restart: { delay: '100ms', maxDelay: '100ms', breaker: { maxFailures: 0 } } },
    ]));
    let d: DaemonProcess | undefined;
    try {
      d = await DaemonProcess.launch(['sidecar', '--processset', 'hung', '--namespace', NS, '--kubeconfig', cluster.kubeconfig, '--listen', '127.0.0.1:0']);
      await eventually('both running and reported', async () => {
        const s = await statusOf('hung');
        return s?.processes?.find((p) => p.id === 'recorder')?.state === 'Running' && (s.processes.find((p) => p.id === 'crasher')?.restarts ?? 0) >= 2;
      }, 30_000);
      const sidecar = d;
      await withHungApiServer(async () => {
        await sleep(realClock, 1_500); // a status write is now in flight, and Event counts are pending
        const termAt = realClock.now();
        sidecar.signal('SIGTERM');
        const stoppedAt = await eventually('the recorder got its stop signal', () => Promise.resolve(existsSync(out) && Number(readFileSync(out, 'utf8').trim())), 10_000);
        expect(stoppedAt - termAt).toBeLessThan(1_500);
        const code = await Promise.race([sidecar.exited, sleep(realClock, 10_000).then(() => 'still running')]);
        expect(code, sidecar.logs.slice(-8).map((r) => JSON.stringify(r)).join('\n')).toBe(0);
        // The processes' stop plus the final writes' deadline (2 s), and no more.
        expect(realClock.now() - termAt).toBeLessThan(6_000);
        expect(sidecar.logs.some((r) => r.msg === 'final status and Event writes cut short: the API server did not answer in time')).toBe(true);
      });
    } finally {
      await d?.stop();
      rmSync(dir, { recursive: true, force: true });
      await kubectl(['delete', 'processset', 'hung', '-n', NS]).catch(() => undefined);
    }
  });

  it('PUT /v1/processes is refused (409 SOURCE_READ_ONLY): the ProcessSet is the only source; one process can still be restarted', async () => {
    await kubectl(['apply', '-f', '-'], processSet('owned', [sleeper('a')]));
    const dir = tempDir('procmgr-k8s-put-');
    try {
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, 'put-token\n', { mode: 0o600 });
      const d = await startSidecar('owned', { tokenFile });
      const pid = await eventually('a running', () => Promise.resolve(pidOf(d, 'a')));
      const headers = { Authorization: 'Bearer put-token', 'Content-Type': 'application/json' };
      const put = await fetch(`http://${d.apiAddress}/v1/processes`, { method: 'PUT', headers, body: JSON.stringify({ processes: [sleeper('intruder')] }) });
      const body = (await put.json()) as { code: string; message: string; details: Record<string, unknown> };
      expect([put.status, body.code]).toEqual([409, 'SOURCE_READ_ONLY']);
      expect(body.message).toContain(`ProcessSet ${NS}/owned`);
      expect(body.details).toMatchObject({ source: `ProcessSet ${NS}/owned` });
      await sleep(realClock, 300);
      expect(d.processes().map((p) => p.id)).toEqual(['a']);
      expect(pidOf(d, 'a')).toBe(pid);

      const restart = await fetch(`http://${d.apiAddress}/v1/processes/a/restart`, { method: 'POST', headers });
      expect(restart.status).toBe(202);
      await eventually('a restarted', () => Promise.resolve(pidOf(d, 'a') !== undefined && pidOf(d, 'a') !== pid));
      await kubectl(['delete', 'processset', 'owned', '-n', NS]);
      await eventually('a stopped', () => Promise.resolve(d.processes().every((p) => p.state !== 'Running')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('after an 8 s outage, an edit made once the API server is ready is applied within 5 s', async () => {
    await kubectl(['apply', '-f', '-'], processSet('outage', [sleeper('a')]));
    const d = await startSidecar('outage');
    const a = await eventually('a running', () => Promise.resolve(pidOf(d, 'a')));
    await restartApiServer(cluster, 8_000);
    const readyAt = realClock.now();
    // A restarted API server serves custom resources a moment after /readyz: retry the edit until it lands.
    await eventually('the edit accepted', () => kubectl(['apply', '-f', '-'], processSet('outage', [sleeper('a'), sleeper('b')])).then(() => true), 30_000);
    const acceptedAt = realClock.now();
    await eventually('b running', () => Promise.resolve(pidOf(d, 'b')), 30_000);
    const appliedAt = realClock.now();
    expect(appliedAt - readyAt, `the edit was accepted ${acceptedAt - readyAt} ms after ready`).toBeLessThanOrEqual(5_000);
    expect(pidOf(d, 'a')).toBe(a);
    await kubectl(['delete', 'processset', 'outage', '-n', NS]);
    await eventually('a stopped', () => Promise.resolve(!isAlive(a)));
  });

  it('a watch resumed after its resourceVersion was compacted away gets a real 410 Gone, relists, and applies later edits', async () => {
    await kubectl(['apply', '-f', '-'], processSet('expiring', [sleeper('a')]));
    const d = await startSidecar('expiring');
    const a = await eventually('a running', () => Promise.resolve(pidOf(d, 'a')));
    await eventually('status written (its own write is the last version the watch saw)', async () => (await statusOf('expiring'))?.processes?.[0]?.state === 'Running');
    const before = await watchStats(d);
    // While the API server is down, etcd moves on and forgets every revision the watch knew.
    await restartApiServer(cluster, 2_000, () => advanceAndCompactEtcd(50).then(() => undefined));
    const stats = await eventually('a 410 relist', async () => {
      const s = await watchStats(d);
      return s.relists410 > before.relists410 && s;
    }, 20_000);
    expect(stats.lists).toBeGreaterThan(before.lists);
    await eventually('the edit accepted', () => kubectl(['apply', '-f', '-'], processSet('expiring', [sleeper('a'), sleeper('b')])).then(() => true), 30_000);
    await eventually('b running', () => Promise.resolve(pidOf(d, 'b')), 10_000);
    expect(pidOf(d, 'a')).toBe(a);
    await kubectl(['delete', 'processset', 'expiring', '-n', NS]);
    await eventually('a stopped', () => Promise.resolve(!isAlive(a)));
  });
});
