import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/daemon/index.js';
import { createSidecar } from '../../src/daemon/sidecar.js';
import { eventually } from '../helpers/daemon.js';
import { kubeCluster, kubectlAdmin, prepareNamespace, tokenKubeconfig, type KubeCluster } from '../helpers/kube.js';
import { tempDir } from '../helpers/supervised.js';

// Events as a real API server stores them: aggregation, names across restarts, readable refusals.
let cluster: KubeCluster;
const NS = `procmgr-events-${randomBytes(4).toString('hex')}`;
const CRD = fileURLToPath(new URL('../../deploy/crd.yaml', import.meta.url));
const kubectl = (args: readonly string[], input?: string): Promise<string> => kubectlAdmin(cluster, args, input);

type Obj = Record<string, unknown>;
// The kubelet's words, which users and tools search for.
const COMBINED_PREFIX = '(combined from similar events): ';
interface StoredEvent {
  metadata: { name: string };
  involvedObject: { kind: string; name: string };
  reason: string;
  type: string;
  message: string;
  count?: number;
}

function processSet(name: string, processes: Obj[]): string {
  return JSON.stringify({ apiVersion: 'procmgr.dev/v1alpha1', kind: 'ProcessSet', metadata: { name, namespace: NS }, spec: { processes } });
}

/** Events about the ProcessSet `name` (a sidecar without a pod writes them there). */
async function eventsAbout(name: string): Promise<StoredEvent[]> {
  const list = JSON.parse(await kubectl(['get', 'events', '-n', NS, '-o', 'json'])) as { items: StoredEvent[] };
  return list.items.filter((e) => e.involvedObject.kind === 'ProcessSet' && e.involvedObject.name === name);
}

const running: Daemon[] = [];
const dirs: string[] = [];

/** A sidecar in this process for the set `name`, its warnings kept in `logs`. */
async function startSidecar(name: string, extra: Partial<Parameters<typeof createSidecar>[0]> = {}): Promise<{ d: Daemon; logs: Obj[] }> {
  const logs: Obj[] = [];
  const logger = pino({ level: 'warn', base: null }, { write: (line: string) => void logs.push(JSON.parse(line) as Obj) });
  const d = createSidecar({ name, namespace: NS, kubeconfig: cluster.kubeconfig, logger, listen: '127.0.0.1:0', statusMinIntervalMs: 200, eventAggregateMs: 300, ...extra });
  running.push(d);
  await d.start();
  return { d, logs };
}

async function stop(d: Daemon): Promise<void> {
  running.splice(running.indexOf(d), 1);
  await d.stop();
}

beforeAll(async () => {
  cluster = await kubeCluster();
  await prepareNamespace(cluster, CRD, NS);
});

afterAll(async () => {
  for (const d of running.splice(0)) await d.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
});

describe('Kubernetes Events under a real API server', () => {
  it('a liveness probe whose output differs every time makes at most 10 Unhealthy Events; the rest are one combined Event with a count', async () => {
    // Each check prints the time and fails: the process is killed and restarted, again and again.
    const ticking = {
      id: 'ticking',
      command: 'sleep',
      args: ['1000'],
      restart: { delay: '50ms', maxDelay: '50ms', breaker: { maxFailures: 0 } },
      probes: { liveness: { exec: { command: 'sh', args: ['-c', 'date +%s%N; exit 1'] }, interval: '100ms', failureThreshold: 1 } },
    };
    await kubectl(['apply', '-f', '-'], processSet('probed', [ticking]));
    const { d } = await startSidecar('probed');
    await eventually('20 restarts', () => Promise.resolve((d.processes().find((p) => p.id === 'ticking')?.restarts ?? 0) >= 20), 45_000);
    const unhealthy = await eventually('the combined Unhealthy Event counted', async () => {
      const mine = (await eventsAbout('probed')).filter((e) => e.reason === 'Unhealthy');
      return mine.some((e) => e.message.startsWith(COMBINED_PREFIX) && (e.count ?? 0) >= 5) && mine;
    }, 30_000);
    await stop(d);
    const events = await eventsAbout('probed');
    for (const reason of ['Unhealthy', 'Killing']) {
      const mine = events.filter((e) => e.reason === reason);
      expect(mine.length, `${reason} Events`).toBeLessThanOrEqual(10);
      expect(mine.filter((e) => e.message.startsWith(COMBINED_PREFIX)), `combined ${reason} Events`).toHaveLength(1);
    }
    expect(unhealthy.find((e) => e.message.startsWith(COMBINED_PREFIX))?.message).toMatch(/^\(combined from similar events\): Liveness probe of ticking failed: .*\d{10,}/);
    await kubectl(['delete', 'processset', 'probed', '-n', NS]);
  });

  it('a restarted sidecar records its Events under new names: no 409 AlreadyExists, nothing lost', async () => {
    await kubectl(['apply', '-f', '-'], processSet('again', [{ id: 'tok', command: 'sleep', args: ['1000'] }]));
    const started = async (n: number): Promise<StoredEvent[] | false> => {
      const mine = (await eventsAbout('again')).filter((e) => e.reason === 'Started' && e.message === 'Started process tok');
      return mine.length === n && mine;
    };
    const first = await startSidecar('again');
    await eventually('the first run\'s Started Event', () => started(1));
    await stop(first.d);
    const second = await startSidecar('again');
    const both = await eventually('the second run\'s Started Event', () => started(2), 20_000);
    expect(new Set(both.map((e) => e.metadata.name)).size).toBe(2);
    await stop(second.d);
    expect([...first.logs, ...second.logs].filter((l) => /Event/.test(String(l.msg)))).toEqual([]);
    await kubectl(['delete', 'processset', 'again', '-n', NS]);
  });

  it('a refused call is logged as one readable line with its code and reason, not client-node\'s escaped body', async () => {
    await kubectl(['create', 'serviceaccount', 'nobody', '-n', NS]);
    const token = (await kubectl(['create', 'token', 'nobody', '-n', NS, '--duration=10m'])).trim();
    const dir = tempDir('procmgr-events-');
    dirs.push(dir);
    const { d, logs } = await startSidecar('unreadable', { kubeconfig: tokenKubeconfig(cluster, dir, token, NS) });
    const line = await eventually('a refused list logged', () => Promise.resolve(logs.find((l) => l.msg === 'ProcessSet list/watch failed; retrying')));
    await stop(d);
    expect(line).toMatchObject({ code: 403, reason: 'Forbidden' });
    expect(line.err).toBe(`processsets.procmgr.dev "unreadable" is forbidden: User "system:serviceaccount:${NS}:nobody" cannot list resource "processsets" in API group "procmgr.dev" in the namespace "${NS}" (403 Forbidden)`);
  });
});
