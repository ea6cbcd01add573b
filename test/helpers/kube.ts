import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from '../../src/util/index.js';

/** The k8s test tier's cluster: a real kube-apiserver + etcd started by hack/kube/up.sh. */
export interface KubeCluster {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Static admin bearer token (group system:masters: bypasses RBAC). */
  token: string;
  /** CA that signed the apiserver's serving certificate. */
  caFile: string;
  /** kubeconfig with the admin token (context namespace "default"). */
  kubeconfig: string;
  /** kubectl built at the apiserver's version. */
  kubectl: string;
}

/** Where hack/kube keeps the cluster's state; the same default as hack/kube/lib.sh. */
export function kubeRunDir(): string {
  return process.env.PROCMGR_KUBE_DIR ?? '/tmp/procmgr-kube';
}

/**
 * The running test cluster, read from <run dir>/cluster.json, which hack/kube/up.sh writes once
 * the apiserver is ready (the k8s project's globalSetup runs it; by hand: `npm run kube:up`).
 */
export async function kubeCluster(): Promise<KubeCluster> {
  const file = join(kubeRunDir(), 'cluster.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(
      `the k8s test cluster is not up: cannot read ${file} (${describe(err)}). ` +
        'Start it with `npm run kube:up`, or run the tests through the k8s vitest project, whose globalSetup starts it.',
    );
  }
  const json = JSON.parse(text) as Record<string, unknown>;
  const field = (name: keyof KubeCluster): string => {
    const v = json[name];
    if (typeof v !== 'string' || v === '') throw new Error(`${file} has no "${name}": rerun \`npm run kube:up\``);
    return v;
  };
  return { server: field('server'), token: field('token'), caFile: field('caFile'), kubeconfig: field('kubeconfig'), kubectl: field('kubectl') };
}

/**
 * Runs the cluster's kubectl (as admin, or with another `kubeconfig`) with `input` on stdin;
 * resolves with stdout, rejects with stderr.
 */
export function kubectlAdmin(cluster: KubeCluster, args: readonly string[], input?: string, kubeconfig = cluster.kubeconfig): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cluster.kubectl, ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL' });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(' ')}: ${err}`))));
    child.stdin.end(input ?? '');
  });
}

/** A kubeconfig file in `dir` that authenticates with `token` (a ServiceAccount's) in `namespace`. */
export function tokenKubeconfig(cluster: KubeCluster, dir: string, token: string, namespace: string): string {
  const file = join(dir, 'kubeconfig-token');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority': cluster.caFile } }],
    users: [{ name: 'sa', user: { token } }],
    contexts: [{ name: 'sa', context: { cluster: 'test', user: 'sa', namespace } }],
    'current-context': 'sa',
  };
  writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

/** The CRD applied and Established, and a fresh namespace `ns`: where each sidecar test file starts. */
export async function prepareNamespace(cluster: KubeCluster, crd: string, ns: string): Promise<void> {
  await kubectlAdmin(cluster, ['apply', '-f', crd]);
  await kubectlAdmin(cluster, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/processsets.procmgr.dev']);
  await kubectlAdmin(cluster, ['create', 'namespace', ns]);
}
