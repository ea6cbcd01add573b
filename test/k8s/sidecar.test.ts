import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon } from '../../src/daemon/index.js';
import { createSidecar } from '../../src/daemon/sidecar.js';
import { isAlive } from '../../src/supervisor/proc.js';
import { DaemonProcess, eventually } from '../helpers/daemon.js';
import { restartApiServer } from '../helpers/apiserver.js';
import { kubeCluster, kubectlAdmin, prepareNamespace, tokenKubeconfig, type KubeCluster } from '../helpers/kube.js';
import { tempDir } from '../helpers/supervised.js';
import { rmSync } from 'node:fs';
import { pino } from 'pino';

let cluster: KubeCluster;
const NS = `procmgr-sidecar-${process.pid}`;
const CRD = fileURLToPath(new URL('../../deploy/crd.yaml', import.meta.url));
const RBAC = fileURLToPath(new URL('../../deploy/rbac.yaml', import.meta.url));

const kubectl = (args: readonly string[], input?: string): Promise<string> => kubectlAdmin(cluster, args, input);

interface Proc {
  id: string;
  command: string;
  args?: string[];
  restart?: Record<string, unknown>;
  env?: Record<string, string>;
}

function processSet(name: string, processes: unknown[]): string {
  return JSON.stringify({ apiVersion: 'procmgr.dev/v1alpha1', kind: 'ProcessSet', metadata: { name, namespace: NS }, spec: { processes } });
}

async function getSet(name: string): Promise<{ metadata: { generation: number }; status?: Record<string, unknown> & { observedGeneration?: number; processes?: { id: string; state: string; pid?: number; restarts: number; requestedRestarts?: number; ready: boolean }[]; conditions?: { type: string; status: string; message: string }[] } }> {
  return JSON.parse(await kubectl(['get', 'processset', name, '-n', NS, '-o', 'json'])) as never;
}

const sleeper = (id: string, seconds = '1000'): Proc => ({ id, command: 'sleep', args: [seconds], restart: { delay: '100ms' } });

const sidecars: Daemon[] = [];
async function startSidecar(name: string, extra: Partial<Parameters<typeof createSidecar>[0]> = {}): Promise<Daemon> {
  const d = createSidecar({ name, namespace: NS, kubeconfig: cluster.kubeconfig, listen: '127.0.0.1:0', statusMinIntervalMs: 200, eventAggregateMs: 500, ...extra });
  d.logger.level = 'warn';
  sidecars.push(d);
  await d.start();
  return d;
}

function pidsOf(d: Daemon): Map<string, number | undefined> {
  return new Map(d.processes().map((p) => [p.id, p.state === 'Running' ? p.pid : undefined]));
}

beforeAll(async () => {
  cluster = await kubeCluster();
  await prepareNamespace(cluster, CRD, NS);
});

afterAll(async () => {
  for (const d of sidecars.splice(0)) await d.stop();
  await kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
});

describe('procmgr sidecar against a real API server', () => {
  it('runs a ProcessSet, reports status, applies edits to the changed entry only, rejects a bad spec, stops all on delete', async () => {
    await kubectl(['apply', '-f', '-'], processSet('web', [sleeper('a'), sleeper('b')]));
    const d = await startSidecar('web');
    const first = await eventually('a and b running', () => Promise.resolve(pidsOf(d).get('a') !== undefined && pidsOf(d).get('b') !== undefined && pidsOf(d)));
    const status = await eventually('status written', async () => {
      const s = await getSet('web');
      return s.status?.processes?.length === 2 && s.status.processes.every((p) => p.state === 'Running') && s;
    });
    expect(status.status?.observedGeneration).toBe(status.metadata.generation);
    expect(status.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(status.status?.processes?.find((p) => p.id === 'a')?.pid).toBe(first.get('a'));

    // Edit b only: b restarts, a keeps its pid.
    await kubectl(['apply', '-f', '-'], processSet('web', [sleeper('a'), sleeper('b', '1001'), sleeper('c')]));
    const second = await eventually('b replaced, c added', () => {
      const p = pidsOf(d);
      return Promise.resolve(p.get('b') !== undefined && p.get('b') !== first.get('b') && p.get('c') !== undefined && p);
    });
    expect(second.get('a')).toBe(first.get('a'));
    expect(isAlive(first.get('b')!)).toBe(false);
    // An edit is a deploy: b's new run is a requested restart, not one an alert on restarts sees.
    const b = await eventually('b counted as requested in the status', async () => {
      const p = (await getSet('web')).status?.processes?.find((x) => x.id === 'b');
      return p?.requestedRestarts === 1 && p;
    });
    expect(b.restarts).toBe(0);

    // Remove c: stopped.
    await kubectl(['apply', '-f', '-'], processSet('web', [sleeper('a'), sleeper('b', '1001')]));
    await eventually('c gone', () => Promise.resolve(!isAlive(second.get('c')!)));

    // A bad spec: SpecInvalid + Warning Event; the last good set keeps running.
    // (Duplicate ids the API server refuses itself: the CRD's list is a map keyed by id.)
    await kubectl(['apply', '-f', '-'], processSet('web', [{ ...sleeper('a'), restart: { delay: 'soon' } }, { ...sleeper('b'), dependsOn: ['nope'] }]));
    const invalid = await eventually('SpecInvalid', async () => {
      const s = await getSet('web');
      const c = s.status?.conditions?.find((x) => x.type === 'SpecInvalid');
      // The rejected generation does not run: observedGeneration stays at the one that does.
      return c?.status === 'True' && (s.status?.observedGeneration ?? 0) < s.metadata.generation && c;
    });
    expect(invalid.message).toContain('spec.processes[0].restart.delay');
    expect(invalid.message).toContain('spec.processes[1].dependsOn[0]: unknown id "nope"');
    const events = JSON.parse(await kubectl(['get', 'events', '-n', NS, '-o', 'json'])) as { items: { reason: string; type: string; message: string }[] };
    expect(events.items.some((e) => e.reason === 'SpecInvalid' && e.type === 'Warning')).toBe(true);
    expect(pidsOf(d).get('a')).toBe(first.get('a'));
    expect(pidsOf(d).get('b')).toBe(second.get('b'));

    // Deleting the ProcessSet stops everything.
    await kubectl(['delete', 'processset', 'web', '-n', NS]);
    await eventually('all stopped', () => Promise.resolve(!isAlive(first.get('a')!) && !isAlive(second.get('b')!)));
  });

  it('a rejected spec is not reported as applied: observedGeneration stays, kubectl wait does not pass, kubectl get shows SpecInvalid', async () => {
    await kubectl(['apply', '-f', '-'], processSet('judged', [sleeper('a')]));
    await startSidecar('judged');
    const wait = (timeout: string): Promise<string> => kubectl(['wait', '-n', NS, '--for=condition=Ready', `--timeout=${timeout}`, 'processset/judged']);
    await eventually('Ready written', async () => (await getSet('judged')).status?.observedGeneration === 1);
    expect(await wait('30s')).toMatch(/condition met/);
    await kubectl(['apply', '-f', '-'], processSet('judged', [{ ...sleeper('a'), restart: { delay: 'soon' } }]));
    const bad = await eventually('SpecInvalid for generation 2', async () => {
      const s = await getSet('judged');
      const c = s.status?.conditions?.find((x) => x.type === 'SpecInvalid') as { status: string; observedGeneration?: number } | undefined;
      return s.metadata.generation === 2 && c?.status === 'True' && c.observedGeneration === 2 && s;
    });
    expect(bad.status?.observedGeneration).toBe(1);
    expect(bad.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', observedGeneration: 1 });
    // kubectl wait compares the condition's observedGeneration with metadata.generation.
    await expect(wait('2s')).rejects.toThrow(/timed out/);
    const table = await kubectl(['get', 'processset', 'judged', '-n', NS]);
    expect(table).toMatch(/^NAME +READY +STATUS +AGE\n/);
    expect(table).toMatch(/\njudged +1\/1 +SpecInvalid +/);
    expect(await kubectl(['get', 'processset', 'judged', '-n', NS, '-o', 'wide'])).toMatch(/GENERATION +OBSERVED[\s\S]*SpecInvalid +2 +1 /);
    // Fixed: generation 3 runs and is Ready.
    await kubectl(['apply', '-f', '-'], processSet('judged', [sleeper('a'), sleeper('b')]));
    expect(await wait('30s')).toMatch(/condition met/);
    const good = await eventually('generation 3 observed', async () => {
      const s = await getSet('judged');
      return s.status?.observedGeneration === 3 && s.status.processes?.length === 2 && s.status.processes.every((p) => p.ready) && s;
    });
    expect(good.status?.conditions?.find((c) => c.type === 'SpecInvalid')).toMatchObject({ status: 'False', observedGeneration: 3 });
    await eventually('kubectl get shows 2/2 Ready', async () => /\njudged +2\/2 +Ready +/.test(await kubectl(['get', 'processset', 'judged', '-n', NS])));
    await kubectl(['delete', 'processset', 'judged', '-n', NS]);
  });

  it('a sidecar that cannot read its set is not ready, says why in /healthz, a Warning Event and one readable log line; ready once it can', async () => {
    await kubectl(['apply', '-f', '-'], processSet('locked', [sleeper('a')]));
    await kubectl(['create', 'serviceaccount', 'locked', '-n', NS]);
    // Events only: the Role of deploy/rbac.yaml minus the reads.
    await kubectl(['create', 'role', 'locked-events', '-n', NS, '--verb=create,patch', '--resource=events']);
    await kubectl(['create', 'rolebinding', 'locked-events', '-n', NS, '--role=locked-events', `--serviceaccount=${NS}:locked`]);
    const token = (await kubectl(['create', 'token', 'locked', '-n', NS, '--duration=10m'])).trim();
    const dir = tempDir('procmgr-k8s-locked-');
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info', base: null }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    try {
      const d = await startSidecar('locked', { kubeconfig: tokenKubeconfig(cluster, dir, token, NS), logger });
      const get = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
        const res = await fetch(`http://${d.apiAddress}${path}`);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const health = await eventually('the refusal in /healthz', async () => {
        const h = await get('/healthz');
        return (h.body.source as { state?: string } | undefined)?.state === 'refused' && h;
      });
      const source = health.body.source as { state: string; since: number; lastError: { status: number; message: string } };
      expect(source.lastError.status).toBe(403);
      expect(source.lastError.message).toMatch(/^403 Forbidden: processsets\.procmgr\.dev .*is forbidden: User "system:serviceaccount:[^"]+:locked" cannot list resource "processsets"/);
      expect(source.lastError.message).not.toMatch(/Unknown API Status Code|\\"/);
      const ready = await get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.reason).toMatch(/^ProcessSet procmgr-sidecar-\d+\/locked not read yet \(403 Forbidden: /);
      const logged = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot read the ProcessSet: 403 Forbidden: '));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ level: 50, code: 403 });
      await eventually('a FailedRead Warning Event', async () => {
        const events = JSON.parse(await kubectl(['get', 'events', '-n', NS, '-o', 'json'])) as { items: { reason: string; type: string; message: string }[] };
        return events.items.some((e) => e.reason === 'FailedRead' && e.type === 'Warning' && e.message.startsWith('Cannot read ProcessSet locked: 403 Forbidden: '));
      });
      expect(d.processes()).toEqual([]);
      // Granted: the set is read, applied, and the sidecar becomes ready.
      await kubectl(['create', 'role', 'locked-read', '-n', NS, '--verb=list,watch', '--resource=processsets.procmgr.dev']);
      await kubectl(['create', 'rolebinding', 'locked-read', '-n', NS, '--role=locked-read', `--serviceaccount=${NS}:locked`]);
      await eventually('ready once the set runs', async () => (await get('/readyz')).status === 200 && pidsOf(d).get('a') !== undefined, 45_000);
      expect(((await get('/healthz')).body.source as { state: string }).state).toBe('synced');
      expect(lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('cannot read the ProcessSet'))).toHaveLength(1);
      await kubectl(['delete', 'processset', 'locked', '-n', NS]);
      await eventually('a stopped', () => Promise.resolve(d.processes().every((p) => p.state !== 'Running')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a crash-looping process without a readiness probe: /readyz 503 and the ProcessSet Ready=False, together', async () => {
    // Between crashes it runs (and is ready, as a container is); in its back-off it is not.
    // Not named `crasher`: the BackOff Event test counts the Events that name it.
    const flapper = { id: 'flapper', command: 'sh', args: ['-c', 'exit 3'], restart: { delay: '3s', maxDelay: '3s' } };
    await kubectl(['apply', '-f', '-'], processSet('loop', [sleeper('web'), flapper]));
    const d = await startSidecar('loop');
    const readyz = async (): Promise<[number, unknown]> => {
      const res = await fetch(`http://${d.apiAddress}/readyz`);
      return [res.status, await res.json()];
    };
    await eventually('flapper backing off', () => Promise.resolve(d.processes().find((p) => p.id === 'flapper')?.state === 'Backoff'), 30_000);
    expect(await readyz()).toEqual([503, { ready: false, notReady: ['flapper'] }]);
    const set = await eventually('Ready=False in the status', async () => {
      const s = await getSet('loop');
      const c = s.status?.conditions?.find((x) => x.type === 'Ready');
      return c?.status === 'False' && c.message === 'not ready: flapper' && s;
    });
    expect(set.status?.summary).toBe('Degraded');
    // Fixed: both turn ready together.
    await kubectl(['apply', '-f', '-'], processSet('loop', [sleeper('web'), { ...flapper, args: ['-c', 'exec sleep 1000'] }]));
    await eventually('/readyz 200', async () => (await readyz())[0] === 200, 30_000);
    await eventually('Ready=True', async () => (await getSet('loop')).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True', 30_000);
    await kubectl(['delete', 'processset', 'loop', '-n', NS]);
  });

  it('a crash loop is one aggregated BackOff Event with a count, not one Event per crash', async () => {
    await kubectl(['apply', '-f', '-'], processSet('crashy', [{ id: 'crasher', command: 'sh', args: ['-c', 'exit 3'], restart: { delay: '50ms', maxDelay: '50ms', breaker: { maxFailures: 0 } } }]));
    const d = await startSidecar('crashy');
    await eventually('many restarts', () => Promise.resolve((d.processes().find((p) => p.id === 'crasher')?.restarts ?? 0) >= 10), 30_000);
    const backoff = await eventually('the BackOff event counted', async () => {
      const events = JSON.parse(await kubectl(['get', 'events', '-n', NS, '-o', 'json'])) as { items: { reason: string; count?: number; message: string }[] };
      const mine = events.items.filter((e) => e.reason === 'BackOff' && e.message.includes('crasher'));
      return mine.length === 1 && (mine[0]?.count ?? 0) >= 5 && mine;
    }, 30_000);
    expect(backoff).toHaveLength(1);
    await kubectl(['delete', 'processset', 'crashy', '-n', NS]);
  });

  it('recovers when the API server goes away mid-watch, and applies later edits', async () => {
    await kubectl(['apply', '-f', '-'], processSet('resilient', [sleeper('a')]));
    const d = await startSidecar('resilient', { watchdogMs: 20_000 });
    const first = await eventually('a running', () => Promise.resolve(pidsOf(d).get('a')));
    await restartApiServer(cluster, 2_000);
    // A restarted API server serves custom resources a moment after /readyz: retry the edit until it lands.
    await eventually('the edit accepted', () => kubectl(['apply', '-f', '-'], processSet('resilient', [sleeper('a'), sleeper('b')])).then(() => true), 30_000);
    await eventually('b running after the outage', () => Promise.resolve(pidsOf(d).get('b')), 45_000);
    expect(pidsOf(d).get('a')).toBe(first);
    const health = d.processes(); // the daemon kept serving throughout
    expect(health.map((p) => p.id)).toEqual(['a', 'b']);
    await eventually('status caught up', async () => (await getSet('resilient')).status?.processes?.length === 2, 30_000);
    await kubectl(['delete', 'processset', 'resilient', '-n', NS]);
  });

  it('runs with the ServiceAccount and Role of deploy/rbac.yaml, and is refused anything else', async () => {
    await kubectl(['apply', '-n', NS, '-f', RBAC]);
    await kubectl(['apply', '-f', '-'], processSet('example', [sleeper('a')]));
    await kubectl(['apply', '-f', '-'], processSet('other', [sleeper('x')]));
    const token = (await kubectl(['create', 'token', 'procmgr', '-n', NS, '--duration=10m'])).trim();
    const dir = tempDir('procmgr-k8s-');
    try {
      const saConfig = tokenKubeconfig(cluster, dir, token, NS);
      const d = await startSidecar('example', { kubeconfig: saConfig });
      const pid = await eventually('a running', () => Promise.resolve(pidsOf(d).get('a')));
      // Everything the sidecar needs works with the token: the watch, the status, the Events.
      await eventually('status written with the SA token', async () => (await getSet('example')).status?.processes?.[0]?.pid === pid);
      await eventually('a Started Event', async () => (await kubectl(['get', 'events', '-n', NS, '-o', 'json'])).includes('Started process a'));
      // Anything else is 403.
      const asSa = (args: string[]): Promise<string> => kubectlAdmin(cluster, args, undefined, saConfig);
      for (const args of [['get', 'pods'], ['get', 'secrets'], ['get', 'processset', 'other'], ['get', 'processsets'], ['get', 'configmaps']]) {
        await expect(asSa(args), args.join(' ')).rejects.toThrow(/forbidden/i);
      }
      await kubectl(['delete', 'processset', 'example', 'other', '-n', NS]);
      await eventually('a stopped', () => Promise.resolve(!isAlive(pid)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves a ConfigMap key instead of a ProcessSet; YAML that does not parse is a Warning Event and changes nothing', async () => {
    const cm = (yaml: string): string => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'procs', namespace: NS }, data: { 'processes.yaml': yaml } });
    await kubectl(['apply', '-f', '-'], cm('processes:\n  - id: one\n    command: sleep\n    args: ["1000"]\n'));
    const d = await startSidecar('procs', { configMapKey: 'processes.yaml' });
    const one = await eventually('one running', () => Promise.resolve(pidsOf(d).get('one')));
    // A bare list works too; the changed entry restarts.
    await kubectl(['apply', '-f', '-'], cm('- id: one\n  command: sleep\n  args: ["1001"]\n'));
    const again = await eventually('one replaced', () => Promise.resolve(pidsOf(d).get('one') !== one && pidsOf(d).get('one')));
    await kubectl(['apply', '-f', '-'], cm('processes: [ { id: one, command: sleep\n'));
    await eventually('the SpecInvalid Event', async () => (await kubectl(['get', 'events', '-n', NS, '-o', 'json'])).includes('configmap/procs[processes.yaml]'));
    expect(pidsOf(d).get('one')).toBe(again);
    await kubectl(['delete', 'configmap', 'procs', '-n', NS]);
    await eventually('one stopped', () => Promise.resolve(!isAlive(again)));
  });

  it('procmgr sidecar --token-file: its API takes changes with the token and refuses them without; SIGHUP re-reads the file; without a token file it refuses all process routes', async () => {
    await kubectl(['apply', '-f', '-'], processSet('tok', [{ ...sleeper('t'), env: { DB_PASSWORD: 'env-value-not-for-status' } }]));
    const dir = tempDir('procmgr-k8s-token-');
    let d: DaemonProcess | undefined;
    try {
      const file = join(dir, 'token');
      writeFileSync(file, 'sidecar-token-one\n', { mode: 0o600 });
      // The real command, as the example Deployment runs it.
      d = await DaemonProcess.launch(['sidecar', '--processset', 'tok', '--namespace', NS, '--kubeconfig', cluster.kubeconfig, '--listen', '127.0.0.1:0', '--token-file', file]);
      expect(d.logs.find((r) => r.msg === 'API listening')).toMatchObject({ auth: 'token' });
      d.token = 'sidecar-token-one';
      const t = async (): Promise<{ pid?: number; requestedRestarts: number } | undefined> => (await d!.json<{ pid?: number; requestedRestarts: number; state: string }>('/v1/processes/t')).body;
      const first = await eventually('t running', async () => (await t())?.pid !== undefined && (await t()));
      const restart = (token?: string): Promise<{ status: number }> =>
        d!.json('/v1/processes/t/restart', { method: 'POST', headers: token === undefined ? { Authorization: '' } : { Authorization: `Bearer ${token}` } });
      expect((await restart()).status).toBe(401);
      expect((await restart('wrong')).status).toBe(401);
      expect((await restart('sidecar-token-one')).status).toBe(202);
      await eventually('t restarted', async () => (await t())?.requestedRestarts === first.requestedRestarts + 1);

      writeFileSync(file, 'sidecar-token-two\n');
      d.signal('SIGHUP');
      await d.waitLog((r) => r.msg === 'API token replaced');
      expect((await restart('sidecar-token-one')).status).toBe(401);
      d.token = 'sidecar-token-two';
      expect((await restart('sidecar-token-two')).status).toBe(202);
      // A file that cannot be read at a SIGHUP keeps the token in force.
      rmSync(file);
      d.signal('SIGHUP');
      await d.waitLog((r) => r.msg === 'API token file unreadable; the token in force stays');
      expect((await restart('sidecar-token-two')).status).toBe(202);
      expect(JSON.stringify(d.logs)).not.toMatch(/sidecar-token-(one|two)/);
      // Neither the API nor the ProcessSet's status shows env values.
      const status = await eventually('status written', async () => (await getSet('tok')).status?.processes?.[0]?.pid !== undefined && (await getSet('tok')).status);
      expect(JSON.stringify(status) + JSON.stringify((await d.json('/v1/processes')).body)).not.toContain('env-value-not-for-status');
    } finally {
      await d?.stop();
      rmSync(dir, { recursive: true, force: true });
    }

    // No token file: nothing is generated, and process data and changes stay refused.
    const bare = await startSidecar('tok');
    const answer = await fetch(`http://${bare.apiAddress}/v1/processes/t/restart`, { method: 'POST' });
    expect([answer.status, ((await answer.json()) as { code: string }).code]).toEqual([403, 'TOKEN_REQUIRED']);
    expect((await fetch(`http://${bare.apiAddress}/v1/processes`)).status).toBe(403);
    expect((await fetch(`http://${bare.apiAddress}/readyz`)).status).not.toBe(403);
    await kubectl(['delete', 'processset', 'tok', '-n', NS]);
  });
});
