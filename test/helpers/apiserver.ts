import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../../src/supervisor/proc.js';
import { realClock, sleep } from '../../src/util/index.js';
import { eventually } from './daemon.js';
import { kubectlAdmin, kubeRunDir, type KubeCluster } from './kube.js';
import { MARK_VAR } from './leaks.js';

// Outages of the shared test cluster's API server. Every caller must hold /tmp/procmgr-k8s.lock
// (the k8s tier is run under it): other worktrees' tests use the same API server.

function apiServerPid(): number {
  return Number(readFileSync(join(kubeRunDir(), 'kube-apiserver.pid'), 'utf8').trim());
}

/**
 * Kills the API server, waits `outageMs` (running `during` meanwhile, e.g. writes straight to
 * etcd), and starts it again with the same command line and environment, detached and logging
 * where hack/kube's does, its pid in the run dir's pid file (so `kube:down` still finds it). etcd
 * keeps running, so the data survive. Resolves once `/readyz` answers ok again.
 */
export async function restartApiServer(cluster: KubeCluster, outageMs: number, during?: () => Promise<void>): Promise<void> {
  const pidFile = join(kubeRunDir(), 'kube-apiserver.pid');
  const pid = apiServerPid();
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const env = Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  delete env[MARK_VAR]; // it belongs to the cluster, not to this test file
  // SIGKILL: a crash, and no graceful drain that waits for the open watches of the other tests.
  process.kill(pid, 'SIGKILL');
  await eventually('the API server gone', () => Promise.resolve(!isAlive(pid)), 30_000);
  await Promise.all([sleep(realClock, outageMs), during?.()]);
  const log = openSync(join(kubeRunDir(), 'logs', 'kube-apiserver.log'), 'a');
  const child = spawn(argv[0] ?? '', argv.slice(1), { env, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  writeFileSync(pidFile, String(child.pid));
  await eventually('the API server ready again', () => kubectlAdmin(cluster, ['get', '--raw', '/readyz']).then((t) => t.trim() === 'ok'), 60_000);
}

/**
 * Freezes the API server (SIGSTOP) while `fn` runs, and thaws it (SIGCONT) however `fn` ends:
 * connections stay open and requests hang, as with a server stuck on a dead etcd.
 */
export async function withHungApiServer<T>(fn: () => Promise<T>): Promise<T> {
  const pid = apiServerPid();
  process.kill(pid, 'SIGSTOP');
  try {
    return await fn();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

/** etcd's v3 JSON gateway of the test cluster (cluster.json's `etcdServer`). */
async function etcd(path: string, body: Record<string, unknown>): Promise<{ header?: { revision?: string } }> {
  const server = (JSON.parse(readFileSync(join(kubeRunDir(), 'cluster.json'), 'utf8')) as { etcdServer: string }).etcdServer;
  const res = await fetch(`${server}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { header?: { revision?: string } };
}

/**
 * Moves etcd's revision on by `writes` (to a key outside the API server's prefix) and compacts
 * everything before it, so no watch can resume from a resourceVersion seen before: the next one
 * gets 410 Gone. Returns the compacted revision.
 */
export async function advanceAndCompactEtcd(writes: number): Promise<number> {
  const key = Buffer.from('/procmgr-test/compaction').toString('base64');
  let revision = 0;
  for (let i = 0; i < writes; i++) {
    const r = await etcd('/v3/kv/put', { key, value: Buffer.from(String(i)).toString('base64') });
    revision = Number(r.header?.revision);
  }
  await etcd('/v3/kv/compaction', { revision: String(revision), physical: true });
  return revision;
}
