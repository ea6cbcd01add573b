import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiException, CoreV1Api, CustomObjectsApi, EventsV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type CoreV1Event } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processSetCrd } from '../../src/k8s/index.js';
import { realClock, sleep } from '../../src/util/index.js';
import { eventually } from '../helpers/daemon.js';
import { kubeCluster, type KubeCluster } from '../helpers/kube.js';

// deploy/ against a real kube-apiserver: README.md's commands take an empty cluster to a running
// sidecar and edit one process as written, the generated CRD is accepted (structural) and
// enforces the config schema, the kustomization applies, and the Role grants the sidecar exactly
// its ProcessSet. Every kubectl call is short-lived (a deadline kills it), watches included.
// The first tests delete the CRD, so this file runs under the k8s tier's lock (like every k8s
// test); its afterAll puts the CRD back.

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/', import.meta.url));
const CRD_NAME = 'processsets.procmgr.dev';
const KUBECTL_DEADLINE_MS = 60_000;
/** README.md's output is kept for a failure message; a runaway command cannot fill memory. */
const OUTPUT_LIMIT = 256 * 1024;

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let cluster: KubeCluster;
// A fresh namespace per run: without a controller-manager a deleted namespace stays Terminating.
const ns = `procmgr-deploy-${randomBytes(4).toString('hex')}`;

/** Appends `chunk` to `text`, keeping the last OUTPUT_LIMIT characters. */
const bounded = (text: string, chunk: Buffer): string => (text + chunk.toString()).slice(-OUTPUT_LIMIT);

function exec(file: string, args: readonly string[], opts: { input?: string; env: NodeJS.ProcessEnv; cwd?: string }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'], timeout: KUBECTL_DEADLINE_MS, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout = bounded(stdout, c)));
    child.stderr.on('data', (c: Buffer) => (stderr = bounded(stderr, c)));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

function run(args: readonly string[], opts: { input?: string; kubeconfig?: boolean } = {}): Promise<Result> {
  const env = { ...process.env, KUBECONFIG: opts.kubeconfig === false ? '/dev/null' : cluster.kubeconfig };
  return exec(cluster.kubectl, args, opts.input === undefined ? { env } : { env, input: opts.input });
}

/** kubectl as the cluster admin; fails the test on a non-zero exit. */
async function kubectl(...args: string[]): Promise<string> {
  const r = await run(args);
  expect(r.code, `kubectl ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** kubectl with only a bearer token (no kubeconfig): what the sidecar's ServiceAccount may do. */
function asServiceAccount(token: string, args: readonly string[], input?: string): Promise<Result> {
  const auth = [`--server=${cluster.server}`, `--certificate-authority=${cluster.caFile}`, `--token=${token}`, '-n', ns];
  return run([...auth, ...args], input === undefined ? { kubeconfig: false } : { input, kubeconfig: false });
}

type Obj = Record<string, unknown>;

function examples(): Obj[] {
  return parseAllDocuments(readFileSync(`${DEPLOY}processset.yaml`, 'utf8')).map((d) => d.toJS() as Obj);
}

/** The example ProcessSet as `name`, with `mutate` applied to its first process. */
function processSet(name: string, mutate: (first: Obj, processes: Obj[]) => void = () => {}): string {
  const set = structuredClone(examples()[0]) as { metadata: Obj; spec: { processes: Obj[] } };
  set.metadata = { name, namespace: ns };
  const [first] = set.spec.processes;
  if (first) mutate(first, set.spec.processes);
  return stringify(set);
}

beforeAll(async () => {
  cluster = await kubeCluster();
  await kubectl('create', 'namespace', ns);
});

afterAll(async () => {
  // Best effort, and not waited for: the namespace only reaches Terminating here.
  if (cluster) await run(['delete', 'namespace', ns, readmeNs, adminNs, '--wait=false', '--ignore-not-found']);
});

// ---------------------------------------------------------------------------------------------
// deploy/README.md, as a user runs it: each block it marks is run by `sh -e` as written, in a
// directory holding deploy/ and bin/ of this checkout, with kubectl on PATH and the admin's
// kubeconfig in KUBECONFIG. Only the namespace (fresh per run) and the sidecar's port change.

const README = readFileSync(`${DEPLOY}README.md`, 'utf8');
const readmeNs = `procmgr-readme-${randomBytes(4).toString('hex')}`;
const adminNs = `procmgr-nsadmin-${randomBytes(4).toString('hex')}`;

/** The ```sh block of README.md after `<!-- test/k8s/deploy.test.ts runs: name -->`. */
function readmeBlock(name: string): string {
  const head = `<!-- test/k8s/deploy.test.ts runs: ${name} -->\n\`\`\`sh\n`;
  const start = README.indexOf(head);
  const end = README.indexOf('\n```\n', start + head.length);
  if (start < 0 || end < 0) throw new Error(`deploy/README.md has no block "${name}"`);
  return README.slice(start + head.length, end + 1);
}

describe('deploy/README.md, from a cluster without the CRD to a running sidecar', () => {
  let work: string;
  let port: number;
  let sidecar: ChildProcess | undefined;
  let sidecarOutput = '';

  const script = (name: string): string => readmeBlock(name).replaceAll('procmgr-example', readmeNs).replaceAll('7070', String(port));
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${join(work, '.bin')}:${process.env.PATH ?? ''}`, KUBECONFIG: cluster.kubeconfig });
  /** Runs README.md's block `name`; fails the test on a non-zero exit (-x: each command in stderr). */
  async function block(name: string): Promise<string> {
    const r = await exec('sh', ['-exc', script(name)], { env: env(), cwd: work });
    expect(r.code, `README.md block "${name}"\n${r.stderr}`).toBe(0);
    return r.stdout;
  }
  const specOf = async (name: string, namespace = readmeNs): Promise<{ processes: Obj[] }> =>
    (JSON.parse(await kubectl('get', 'processset', name, '-n', namespace, '-o', 'json')) as { spec: { processes: Obj[] } }).spec;
  const ids = async (name = 'example', namespace = readmeNs): Promise<unknown[]> => (await specOf(name, namespace)).processes.map((p) => p.id);

  async function stopSidecar(): Promise<void> {
    const child = sidecar;
    sidecar = undefined;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    // Its own process group (detached): sh and the sidecar, not the processes it started.
    process.kill(-child.pid, 'SIGTERM');
    const deadline = sleep(realClock, 30_000).then(() => 'timeout' as const);
    if ((await Promise.race([closed, deadline])) === 'timeout') process.kill(-child.pid, 'SIGKILL');
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'procmgr-readme-'));
    mkdirSync(join(work, '.bin'));
    symlinkSync(cluster.kubectl, join(work, '.bin', 'kubectl'));
    symlinkSync(DEPLOY, join(work, 'deploy'));
    symlinkSync(BIN, join(work, 'bin'));
    port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    // "A cluster without the CRD": deleting it also deletes every ProcessSet (its finalizer).
    await kubectl('delete', 'crd', CRD_NAME, '--ignore-not-found', '--timeout=60s');
  });

  afterAll(async () => {
    await stopSidecar();
    // The shared cluster is left with the CRD, as the other test files expect to find it.
    await run(['apply', '--server-side', '--force-conflicts', '-f', `${DEPLOY}crd.yaml`]);
    await run(['wait', '--for=condition=Established', '--timeout=60s', `crd/${CRD_NAME}`]);
    rmSync(work, { recursive: true, force: true });
  });

  it('installs the CRD, then deploy/ into a namespace (the kustomization holds no cluster-scoped object)', async () => {
    expect((await run(['get', 'crd', CRD_NAME])).stderr).toMatch(/NotFound/);
    expect(await block('crd')).toContain(`customresourcedefinition.apiextensions.k8s.io/${CRD_NAME} condition met`);
    const out = await block('install');
    expect(out).toContain('processset.procmgr.dev/example serverside-applied');
    expect(out).not.toContain('customresourcedefinition');
    expect(out).toMatch(/^NAME\s+READY\s.*\sAGE\n^example\s/m);
  });

  it('runs the sidecar on this machine with a kubeconfig holding only the ServiceAccount token', async () => {
    expect(await block('kubeconfig')).toContain(`system:serviceaccount:${readmeNs}:procmgr`);
    expect(readFileSync(join(work, 'procmgr-sa.kubeconfig'), 'utf8'), "the admin's credentials").not.toContain(cluster.token);

    const child = spawn('sh', ['-ec', script('sidecar')], { env: env(), cwd: work, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    sidecar = child;
    child.stdout.on('data', (c: Buffer) => (sidecarOutput = bounded(sidecarOutput, c)));
    child.stderr.on('data', (c: Buffer) => (sidecarOutput = bounded(sidecarOutput, c)));
    try {
      // web's readiness probe runs every 5 s, and ticker waits for web.
      await eventually('/readyz 200', async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (res.ok) return true;
        await sleep(realClock, 250);
        return false;
      }, 45_000);
      await eventually('the ProcessSet Ready=True with 2 of 2 processes ready', async () => {
        const ready = await kubectl('get', 'processset', 'example', '-n', readmeNs, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.readyCount}/{.status.processCount}');
        if (ready === 'True 2/2') return true;
        await sleep(realClock, 250);
        return false;
      }, 30_000);
      await eventually('both Started Events', async () => {
        const reasons = await kubectl('get', 'events', '-n', readmeNs, '-o', 'jsonpath={range .items[*]}{.message};{end}');
        if (reasons.includes('Started process web') && reasons.includes('Started process ticker')) return true;
        await sleep(realClock, 250);
        return false;
      }, 30_000);
      const check = await block('check');
      expect(check).toMatch(/^example\s+2\/2\s+Ready\s/m);
      expect(check).toContain('{"ready":true,"notReady":[]}');
      expect(check).toMatch(/Normal\s+Started\s+processset\/example\s+Started process web/);
    } catch (err) {
      throw new Error(`${String(err)}\nsidecar output:\n${sidecarOutput}`, { cause: err });
    } finally {
      await stopSidecar();
    }
    expect(sidecarOutput).toMatch(/"msg":"process set applied"/);
    expect(sidecarOutput).toMatch(/"msg":"all processes stopped"/);
  });

  it('edits one process as README.md shows: a JSON patch guarded by a test of the id, then server-side apply under another field manager', async () => {
    const [web] = (await specOf('example')).processes;
    expect(await block('edit')).toContain('web ticker hello');
    const processes = (await specOf('example')).processes;
    expect(processes.map((p) => p.id)).toEqual(['web', 'ticker', 'hello']);
    expect(processes[0]).toEqual(web);
    expect(processes[1]).toMatchObject({ id: 'ticker', command: 'sh', stopGracePeriod: '2s', dependsOn: ['web'] });
    expect(processes[2]).toEqual({ id: 'hello', command: 'sh', args: ['-c', 'echo hello; sleep 3600'] });
  });

  it('server-side apply: a conflict on another manager\'s field, --force-conflicts takes it, an entry left out is deleted, the owner then conflicts', async () => {
    const alice = (processes: Obj[], ...flags: string[]): Promise<Result> =>
      run(['apply', '--server-side', '--field-manager=alice', ...flags, '-n', readmeNs, '-f', '-'], { input: stringify({ apiVersion: 'procmgr.dev/v1alpha1', kind: 'ProcessSet', metadata: { name: 'example' }, spec: { processes } }) });
    const ticker = { id: 'ticker', stopGracePeriod: '3s' };
    const conflict = await alice([ticker]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain('conflict with "kubectl-patch" using procmgr.dev/v1alpha1: .spec.processes[id="ticker"].stopGracePeriod');
    expect(await ids()).toEqual(['web', 'ticker', 'hello']);

    // Forced: ticker's grace period is alice's now; hello, left out of her file, is gone.
    const forced = await alice([ticker], '--force-conflicts');
    expect(forced.code, forced.stderr).toBe(0);
    expect(await ids()).toEqual(['web', 'ticker']);
    expect((await specOf('example')).processes[1]).toMatchObject({ id: 'ticker', command: 'sh', stopGracePeriod: '3s' });

    const owner = await run(['apply', '--server-side', '-k', `${work}/deploy`, '-n', readmeNs]);
    expect(owner.code).toBe(1);
    expect(owner.stderr).toContain('conflict with "alice"');

    const none = await alice([], '--force-conflicts');
    expect(none.code, none.stderr).toBe(0);
    expect(await ids()).toEqual(['web', 'ticker']);
  });

  it('a JSON patch whose test of the id fails changes nothing; a merge patch replaces the whole list; a strategic merge patch is refused', async () => {
    const before = await specOf('example');
    const guarded = await run(['patch', 'pset', 'example', '-n', readmeNs, '--type', 'json', '-p', JSON.stringify([{ op: 'test', path: '/spec/processes/0/id', value: 'ticker' }, { op: 'replace', path: '/spec/processes/0/stopGracePeriod', value: '9s' }])]);
    expect(guarded.code).toBe(1);
    expect(await specOf('example')).toEqual(before);

    const strategic = await run(['patch', 'pset', 'example', '-n', readmeNs, '-p', '{"spec":{"processes":[{"id":"ticker","stopGracePeriod":"4s"}]}}']);
    expect(strategic.code).toBe(1);
    expect(strategic.stderr).toContain('application/strategic-merge-patch+json is not supported');

    await kubectl('patch', 'pset', 'example', '-n', readmeNs, '--type', 'merge', '-p', '{"spec":{"processes":[{"id":"ticker","stopGracePeriod":"4s"}]}}');
    expect((await specOf('example')).processes).toEqual([{ id: 'ticker', stopGracePeriod: '4s' }]);
  });

  it('a set created by client-side apply loses every process to the first server-side apply of another manager (why README.md installs with --server-side)', async () => {
    const name = 'client-side';
    const set = (processes: Obj[]): string => stringify({ apiVersion: 'procmgr.dev/v1alpha1', kind: 'ProcessSet', metadata: { name }, spec: { processes } });
    const created = await run(['apply', '-n', readmeNs, '-f', '-'], { input: set([{ id: 'web', command: 'true' }, { id: 'ticker', command: 'true' }]) });
    expect(created.code, created.stderr).toBe(0);
    expect(await ids(name)).toEqual(['web', 'ticker']);
    const r = await run(['apply', '--server-side', '--field-manager=alice', '-n', readmeNs, '-f', '-'], { input: set([{ id: 'hello', command: 'true' }]) });
    expect(r.code, r.stderr).toBe(0);
    expect(await ids(name)).toEqual(['hello']);
  });

  it('a namespace admin, with no cluster-wide rights, applies deploy/', async () => {
    await kubectl('create', 'namespace', adminNs);
    const user = 'procmgr-test-namespace-admin';
    const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'namespace-admin', namespace: adminNs }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] };
    expect((await run(['apply', '-f', '-'], { input: JSON.stringify(role) })).code).toBe(0);
    await kubectl('create', 'rolebinding', 'namespace-admin', '-n', adminNs, '--role=namespace-admin', `--user=${user}`);
    // (the authorizer learns of new bindings through an informer: allow it a moment)
    await eventually('the binding in effect', async () => {
      const r = await run(['auth', 'can-i', 'create', 'roles', '-n', adminNs, `--as=${user}`]);
      if (r.stdout.trim() === 'yes') return true;
      await sleep(realClock, 100);
      return false;
    });
    expect((await run(['auth', 'can-i', 'create', 'customresourcedefinitions', `--as=${user}`])).stdout.trim()).toBe('no');
    const r = await run(['apply', '--server-side', '-k', DEPLOY, '-n', adminNs, `--as=${user}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(await ids('example', adminNs)).toEqual(['web', 'ticker']);
  });

  it('kubectl delete -k deploy/ in one namespace leaves the CRD and the sets of other namespaces', async () => {
    await kubectl('delete', '-k', DEPLOY, '-n', adminNs, '--timeout=60s');
    expect((await run(['get', 'processset', 'example', '-n', adminNs])).stderr).toMatch(/NotFound/);
    expect(await kubectl('get', 'crd', CRD_NAME, '-o', 'name')).toBe(`customresourcedefinition.apiextensions.k8s.io/${CRD_NAME}\n`);
    expect(await ids('example', readmeNs)).toEqual(['ticker']);
  });
});

describe('deploy/ on a real API server', () => {
  it('the generated CRD is accepted as structural, stored unchanged, and becomes Established', async () => {
    // Server-side apply: the CRD may already exist from another test file or by other means
    // (client-side apply would warn about a missing last-applied annotation then).
    const applied = await run(['apply', '--server-side', '--force-conflicts', '--field-manager=procmgr-deploy-test', '-f', `${DEPLOY}crd.yaml`]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr, 'warnings from the server about the CRD').not.toMatch(/warning/i);
    await kubectl('wait', '--for=condition=Established', '--timeout=60s', `crd/${CRD_NAME}`);

    const stored = JSON.parse(await kubectl('get', 'crd', CRD_NAME, '-o', 'json')) as { spec: { versions: Obj[] }; status: { conditions: Obj[] } };
    expect(stored.status.conditions.filter((c) => c.status === 'True').map((c) => c.type).sort()).toEqual(['Established', 'NamesAccepted']);
    // The server keeps a structural schema as sent; a pruned or rewritten node would show here.
    const ours = (processSetCrd().spec as { versions: Obj[] }).versions[0];
    expect(stored.spec.versions[0]?.schema).toEqual(ours?.schema);
  });

  it('kubectl apply --dry-run=server -k deploy/ passes', async () => {
    const out = await kubectl('apply', '--dry-run=server', '-k', DEPLOY, '-n', ns);
    expect(out).not.toContain('customresourcedefinition');
    for (const kind of ['serviceaccount/procmgr', 'role.rbac.authorization.k8s.io/procmgr', 'rolebinding.rbac.authorization.k8s.io/procmgr', 'deployment.apps/example', 'processset.procmgr.dev/example']) {
      expect(out).toContain(kind);
    }
  });

  it('deployment.yaml: the sidecar reads its API token from the optional Secret procmgr-api-token, mounted into it alone; deploy/ ships no Secret', async () => {
    type Container = { name: string; args?: string[]; volumeMounts?: Obj[] };
    const built = (dir: string): Promise<Obj[]> => kubectl('kustomize', dir).then((text) => parseAllDocuments(text).map((d) => d.toJS() as Obj));
    const objects = await built(DEPLOY);
    const pod = (objects.find((o) => o.kind === 'Deployment') as { spec: { template: { spec: { initContainers: Container[]; containers: Container[]; volumes: Obj[] } } } }).spec.template.spec;
    const procmgr = pod.initContainers.find((c) => c.name === 'procmgr');
    expect(procmgr?.args).toEqual(['sidecar', '--processset', 'example', '--token-file', '/etc/procmgr/api-token/token']);
    expect(procmgr?.volumeMounts).toContainEqual({ name: 'procmgr-api-token', mountPath: '/etc/procmgr/api-token', readOnly: true });
    expect(pod.volumes.find((v) => v.name === 'procmgr-api-token')).toEqual({ name: 'procmgr-api-token', secret: { secretName: 'procmgr-api-token', optional: true, items: [{ key: 'token', path: 'token' }] } });
    for (const c of [...pod.containers, ...pod.initContainers.filter((x) => x !== procmgr)]) {
      expect((c.volumeMounts ?? []).map((m) => m.name), c.name).not.toContain('procmgr-api-token');
    }
    // Everyone applying deploy/ would share a token written here: it is created per install (README.md).
    const dir = mkdtempSync(join(tmpdir(), 'procmgr-kustomize-'));
    try {
      writeFileSync(join(dir, 'kustomization.yaml'), stringify({ resources: [relative(dir, DEPLOY)], components: [relative(dir, `${DEPLOY}components/configmap`)] }));
      const withConfigMap = await built(dir);
      expect([...objects, ...withConfigMap].filter((o) => o.kind === 'Secret')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts the example ProcessSet', async () => {
    const r = await run(['apply', '--validate=strict', '-f', '-'], { input: processSet('example') });
    expect(r.code, r.stderr).toBe(0);
    const stored = JSON.parse(await kubectl('get', 'processset', 'example', '-n', ns, '-o', 'json')) as { spec: { processes: Obj[] } };
    expect(stored.spec.processes.map((p) => p.id)).toEqual(['web', 'ticker']);
  });

  it.each([
    ['an unknown enum value', (p: Obj) => (p.restart = { policy: 'sometimes' }), /spec\.processes\[0\]\.restart\.policy: Unsupported value: "sometimes"/],
    ['an unknown field (strict field validation)', (p: Obj) => (p.bogus = 1), /unknown field "spec\.processes\[0\]\.bogus"/],
    ['a duration that is neither integer nor string', (p: Obj) => (p.stopGracePeriod = true), /spec\.processes\[0\]\.stopGracePeriod.*must be of type integer,string/],
    ['a port out of range', (p: Obj) => (p.probes = { readiness: { http: { port: 70000 } } }), /probes\.readiness\.http\.port.*less than or equal to 65535/],
    ['a bad dependency condition', (p: Obj) => (p.dependsOn = [{ id: 'x', condition: 'soon' }]), /dependsOn\[0\]\.condition: Unsupported value: "soon"/],
    ['a duplicate id', (_p: Obj, all: Obj[]) => all.push({ id: all[0]?.id, command: 'true' }), /spec\.processes\[\d\]: Duplicate value: \{"id":"web"\}/],
  ])('rejects a ProcessSet with %s', async (what, mutate, message) => {
    const name = `bad-${what.replaceAll(/[^a-z]+/g, '-').replace(/-$/, '')}`;
    const r = await run(['create', '--validate=strict', '-f', '-'], { input: processSet(name, mutate) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    const got = await run(['get', 'processset', name, '-n', ns]);
    expect(got.stderr).toMatch(/NotFound/);
  });

  it('without strict validation, prunes an unknown field instead of storing it', async () => {
    const r = await run(['create', '--validate=ignore', '-f', '-'], { input: processSet('pruned', (p) => (p.bogus = 1)) });
    expect(r.code, r.stderr).toBe(0);
    const stored = JSON.parse(await kubectl('get', 'processset', 'pruned', '-n', ns, '-o', 'json')) as { spec: { processes: Obj[] } };
    expect(stored.spec.processes[0]).not.toHaveProperty('bogus');
  });

  it('rbac.yaml lets the sidecar list and watch its own ProcessSet, patch its status and record Events, nothing else', async () => {
    await kubectl('apply', '-n', ns, '-f', `${DEPLOY}rbac.yaml`);
    for (const name of ['example', 'other']) {
      const r = await run(['apply', '-f', '-'], { input: processSet(name) });
      expect(r.code, r.stderr).toBe(0);
    }
    const token = (await kubectl('create', 'token', 'procmgr', '-n', ns, '--duration=10m')).trim();
    const sa = (...args: string[]): Promise<Result> => asServiceAccount(token, args);

    // list and watch are allowed with the field selector that names the set (resourceNames)...
    const base = `/apis/procmgr.dev/v1alpha1/namespaces/${ns}/processsets`;
    // (the authorizer learns of new bindings through an informer: allow it a moment)
    let list = await sa('get', '--raw', `${base}?fieldSelector=metadata.name%3Dexample`);
    for (let i = 0; i < 50 && list.code !== 0; i++) {
      await sleep(realClock, 100);
      list = await sa('get', '--raw', `${base}?fieldSelector=metadata.name%3Dexample`);
    }
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { items: Obj[] }).items.map((i) => (i.metadata as Obj).name)).toEqual(['example']);
    // (timeoutSeconds ends the watch on the server side after its initial ADDED event)
    const watch = await sa('get', '--raw', `${base}?fieldSelector=metadata.name%3Dexample&watch=true&timeoutSeconds=1`);
    expect(watch.code, watch.stderr).toBe(0);
    expect(watch.stdout).toMatch(/"type":"ADDED".*"name":"example"/);

    // ...and, as the sidecar does it (client-node, a JSON merge patch; kubectl patch would get first),
    // its status can be patched,
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: cluster.server, caFile: cluster.caFile }],
      users: [{ name: 'sa', token }],
      contexts: [{ name: 'sa', cluster: 'test', user: 'sa', namespace: ns }],
      currentContext: 'sa',
    });
    const custom = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const PS = { group: 'procmgr.dev', version: 'v1alpha1', plural: 'processsets', namespace: ns };
    await custom.patchNamespacedCustomObjectStatus({ ...PS, name: 'example', body: { status: { processCount: 2, readyCount: 0 } } }, merge);
    expect(await kubectl('get', 'processset', 'example', '-n', ns, '-o', 'jsonpath={.status.processCount}')).toBe('2');

    // and (core/v1) Events can be created and patched.
    const involvedObject = { kind: 'Pod', name: 'example-0', namespace: ns };
    const event = { metadata: { name: 'example-0.started', namespace: ns }, involvedObject, reason: 'Started', message: 'Started process web', type: 'Normal', count: 1 };
    await core.createNamespacedEvent({ namespace: ns, body: event });
    await core.patchNamespacedEvent({ name: 'example-0.started', namespace: ns, body: { count: 2 } }, merge);
    expect(await kubectl('get', 'event', 'example-0.started', '-n', ns, '-o', 'jsonpath={.count}')).toBe('2');

    // Everything else is refused: kubectl for reads (one request each), client-node for writes.
    const forbidden: Array<[string, string[]]> = [
      ['list every ProcessSet', ['get', 'processsets']],
      ['watch every ProcessSet', ['get', '--raw', `${base}?watch=true&timeoutSeconds=1`]],
      ['get another ProcessSet', ['get', 'processset', 'other']],
      ['get its own ProcessSet (it lists and watches it instead)', ['get', 'processset', 'example']],
      ['read the status of its ProcessSet', ['get', '--raw', `${base}/example/status`]],
      ['list pods', ['get', 'pods']],
      ['list secrets', ['get', 'secrets']],
      ['list ConfigMaps', ['get', 'configmaps']],
      ['list the ConfigMap `example` (only the ConfigMap Component grants it)', ['get', '--raw', `/api/v1/namespaces/${ns}/configmaps?fieldSelector=metadata.name%3Dexample`]],
      ['get an Event', ['get', 'event', 'example-0.started']],
      ['list Events', ['get', 'events']],
    ];
    const stored = (await custom.listNamespacedCustomObject({ ...PS, fieldSelector: 'metadata.name=example' })) as { items: Obj[] };
    const storedEvent = JSON.parse(await kubectl('get', 'event', 'example-0.started', '-n', ns, '-o', 'json')) as CoreV1Event;
    const refusedWrites: Array<[string, () => Promise<unknown>]> = [
      ['change the spec of its ProcessSet', () => custom.patchNamespacedCustomObject({ ...PS, name: 'example', body: { spec: { processes: [] } } }, merge)],
      ['patch the status of another ProcessSet', () => custom.patchNamespacedCustomObjectStatus({ ...PS, name: 'other', body: { status: { processCount: 1 } } }, merge)],
      ['update (replace) the status of its ProcessSet', () => custom.replaceNamespacedCustomObjectStatus({ ...PS, name: 'example', body: stored.items[0] })],
      ['update (replace) an Event', () => core.replaceNamespacedEvent({ name: 'example-0.started', namespace: ns, body: { ...storedEvent, count: 3 } })],
      ['delete an Event', () => core.deleteNamespacedEvent({ name: 'example-0.started', namespace: ns })],
      ['create an events.k8s.io Event', () => kc.makeApiClient(EventsV1Api).createNamespacedEvent({ namespace: ns, body: { metadata: { name: 'example-0.new', namespace: ns }, regarding: involvedObject, reason: 'Started', note: 'Started process web', type: 'Normal', action: 'Started', reportingController: 'procmgr', reportingInstance: 'example-0', eventTime: new Date() } })],
    ];
    const results = [
      ...(await Promise.all(forbidden.map(async ([what, args]) => {
        const r = await sa(...args);
        return { what, code: r.code, forbidden: /Forbidden|forbidden/.test(r.stderr) };
      }))),
      ...(await Promise.all(refusedWrites.map(async ([what, call]) => {
        const code = await call().then(() => 0, (err: unknown) => (err instanceof ApiException ? err.code : -1));
        return { what, code: code === 403 ? 1 : code, forbidden: code === 403 };
      }))),
    ];
    for (const r of results) expect(r).toEqual({ what: r.what, code: 1, forbidden: true });
  });
});
