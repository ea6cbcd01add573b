import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi, KubeConfig, type CoreV1Event } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, parseProcessList } from '../../src/config/index.js';
import type { Daemon } from '../../src/daemon/index.js';
import { PS } from '../../src/k8s/api.js';
import { createSidecar } from '../../src/daemon/sidecar.js';
import { realClock, sleep } from '../../src/util/index.js';
import { eventually } from '../helpers/daemon.js';
import { kubeCluster, kubectlAdmin, tokenKubeconfig, type KubeCluster } from '../helpers/kube.js';
import { tempDir } from '../helpers/supervised.js';

// deploy/rbac.yaml grants the sidecar exactly the calls src/k8s/api.ts makes, on a real API server
// (hack/kube runs it with --authorization-mode=Node,RBAC):
// - `kubectl auth can-i --list` as the procmgr ServiceAccount shows those rules and nothing else
//   beyond what a ServiceAccount with no bindings may do;
// - each verb is needed: a sidecar whose Role lacks just that one verb fails in that verb's way,
//   while a sidecar with the deploy Role, running at the same time, does what that one cannot;
// - the ConfigMap Component adds list/watch of its one ConfigMap, and a sidecar serves it.

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const COMPONENT = `${DEPLOY}components/configmap/`;
// A fresh namespace per run: without a controller-manager a deleted namespace stays Terminating.
const NS = `procmgr-rbac-${randomBytes(4).toString('hex')}`;

let cluster: KubeCluster;
let custom: CustomObjectsApi;
let core: CoreV1Api;
const kubectl = (args: readonly string[], input?: string): Promise<string> => kubectlAdmin(cluster, args, input);

type Obj = Record<string, unknown>;
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

function docs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj);
}

function roleRules(objects: Obj[], name: string): Rule[] {
  const role = objects.find((o) => o.kind === 'Role' && (o.metadata as Obj).name === name);
  if (!role) throw new Error(`no Role ${name}`);
  return role.rules as Rule[];
}

/** Each (verb, group/resource, name) a rule grants, as `verb group/resource[/name]` ("core" for ""). */
function grants(rules: readonly Rule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) {
    for (const g of r.apiGroups ?? []) {
      for (const res of r.resources ?? []) {
        for (const name of r.resourceNames?.length ? r.resourceNames : ['']) {
          for (const v of r.verbs) out.add(`${v} ${g === '' ? 'core' : g}/${res}${name ? `/${name}` : ''}`);
        }
      }
    }
    for (const url of r.nonResourceURLs ?? []) for (const v of r.verbs) out.add(`${v} ${url}`);
  }
  return [...out].sort();
}

/** What the sidecar calls (src/k8s/api.ts clientNodeApi), for the set `name`. */
const expectedGrants = (name: string): string[] =>
  [`list procmgr.dev/processsets/${name}`, `watch procmgr.dev/processsets/${name}`, `patch procmgr.dev/processsets/status/${name}`, 'create core/events', 'patch core/events'].sort();

/**
 * `kubectl auth can-i --list -n NS` with `kubeconfig` (a ServiceAccount's token): every grant,
 * resource and non-resource, read from its table (this kubectl has no `-o` for it).
 */
async function canIList(kubeconfig: string): Promise<string[]> {
  const lines = (await kubectlAdmin(cluster, ['auth', 'can-i', '--list', '-n', NS], undefined, kubeconfig)).split('\n');
  const header = lines[0] ?? '';
  const starts = ['Resources', 'Non-Resource URLs', 'Resource Names', 'Verbs'].map((h) => header.indexOf(h));
  expect(starts.every((i) => i >= 0), header).toBe(true);
  const list = (cell: string): string[] => cell.replace(/^\[|\]$/g, '').split(' ').filter(Boolean);
  const rules = lines.slice(1).filter((l) => l.trim() !== '').map((line): Rule => {
    const [resource = '', urls = '', names = '', verbs = ''] = starts.map((at, i) => line.slice(at, starts[i + 1]).trim());
    if (resource === '') return { nonResourceURLs: list(urls), verbs: list(verbs) };
    // `plural.group/subresource`, or `plural[/subresource]` for the core group
    const m = /^([^./]+)(?:\.([^/]+))?(\/.+)?$/.exec(resource);
    return { apiGroups: [m?.[2] ?? ''], resources: [`${m?.[1] ?? resource}${m?.[3] ?? ''}`], resourceNames: list(names), verbs: list(verbs) };
  });
  return grants(rules);
}

interface Account {
  /** A kubeconfig with only the ServiceAccount's token. */
  readonly kubeconfig: string;
}
const dirs: string[] = [];
async function account(sa: string): Promise<Account> {
  const token = (await kubectl(['create', 'token', sa, '-n', NS, '--duration=10m'])).trim();
  const dir = tempDir('procmgr-rbac-');
  dirs.push(dir);
  return { kubeconfig: tokenKubeconfig(cluster, dir, token, NS) };
}

/** What `a` may do in NS beyond a ServiceAccount without bindings. */
let baseline: string[];
async function ownGrants(a: Account): Promise<string[]> {
  const all = await canIList(a.kubeconfig);
  expect(baseline.filter((g) => !all.includes(g)), 'the defaults every ServiceAccount has').toEqual([]);
  return all.filter((g) => !baseline.includes(g));
}

/** The authorizer learns of new bindings through an informer: wait until `a` has exactly `want`. */
async function awaitGrants(a: Account, want: readonly string[]): Promise<void> {
  let got: string[] = [];
  for (let i = 0; i < 40; i++, await sleep(realClock, 50)) {
    got = await ownGrants(a);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
  }
  expect(got).toEqual(want);
}

beforeAll(async () => {
  cluster = await kubeCluster();
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  custom = kc.makeApiClient(CustomObjectsApi);
  core = kc.makeApiClient(CoreV1Api);
  // Server-side apply: another test file may have applied the CRD in its own way.
  await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=procmgr-rbac-test', '-f', `${DEPLOY}crd.yaml`]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/processsets.procmgr.dev']);
  await kubectl(['create', 'namespace', NS]);
  await kubectl(['apply', '-n', NS, '-f', `${DEPLOY}rbac.yaml`]);
  await kubectl(['create', 'serviceaccount', 'nobody', '-n', NS]);
  baseline = await canIList((await account('nobody')).kubeconfig);
});

afterAll(async () => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  if (cluster) await kubectl(['delete', 'namespace', NS, '--wait=false', '--ignore-not-found']).catch(() => undefined);
});

describe('deploy/rbac.yaml on a real API server', () => {
  it('kubectl auth can-i --list: the procmgr ServiceAccount has exactly the sidecar rules beyond the defaults', async () => {
    // The defaults (self reviews, discovery URLs) are there, and are not ours to change.
    expect(baseline).toContain('create authorization.k8s.io/selfsubjectaccessreviews');
    expect(baseline.some((g) => g.startsWith('get /'))).toBe(true);
    const procmgr = await account('procmgr');
    await awaitGrants(procmgr, expectedGrants('example'));
    // The table is the API's SelfSubjectRulesReview, which says whether it is complete.
    const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: NS } };
    const reviewed = JSON.parse(await kubectlAdmin(cluster, ['create', '--validate=false', '-f', '-', '-o', 'json'], JSON.stringify(review), procmgr.kubeconfig)) as { status: { incomplete: boolean; evaluationError?: string } };
    expect(reviewed.status, 'the rules review is complete').toMatchObject({ incomplete: false });
  });
});

// ---------------------------------------------------------------------------------------------
// Each verb is needed. A sidecar per case runs with the deploy Role minus one verb (its set's name
// in place of `example`, so the cases run side by side in one namespace), beside a control
// sidecar with deploy/rbac.yaml itself. All start together; each test then waits for its case's
// failure (the refusal in the sidecar's log, and what it means on the API server) and shows the
// control got past it.

interface Running {
  readonly name: string;
  readonly d: Daemon;
  readonly logs: Obj[];
}

type Drop = readonly [group: string, resource: string, verb: string];
const CASES = {
  'no-list': ['procmgr.dev', 'processsets', 'list'],
  'no-watch': ['procmgr.dev', 'processsets', 'watch'],
  'no-status-patch': ['procmgr.dev', 'processsets/status', 'patch'],
  'no-event-create': ['', 'events', 'create'],
  'no-event-patch': ['', 'events', 'patch'],
} as const satisfies Record<string, Drop>;
type CaseName = keyof typeof CASES;

/** The deploy Role for the set `name`, without `drop`'s verb (a rule left with no verb goes). */
function roleWithout(name: string, [group, resource, verb]: Drop): Rule[] {
  return roleRules(docs(`${DEPLOY}rbac.yaml`), 'procmgr')
    .map((r) => ({ ...r, ...(r.resourceNames ? { resourceNames: r.resourceNames.map((n) => (n === 'example' ? name : n)) } : {}) }))
    .map((r) => (r.apiGroups?.includes(group) && r.resources?.includes(resource) ? { ...r, verbs: r.verbs.filter((v) => v !== verb) } : r))
    .filter((r) => r.verbs.length > 0);
}

function withRole(name: string, rules: Rule[]): string {
  const meta = { name, namespace: NS };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta, rules },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [{ kind: 'ServiceAccount', name }] },
  ]
    .map((o) => stringify(o))
    .join('---\n');
}

const sleeper = (id: string): Obj => ({ id, command: 'sleep', args: ['1000'], restart: { delay: '100ms' } });
// Exits at once, restarted every 200 ms: a series of identical Events (Started, BackOff) whose count grows.
const crasher: Obj = { id: 'crasher', command: 'sh', args: ['-c', 'exit 3'], restart: { delay: '200ms', maxDelay: '200ms', breaker: { maxFailures: 0 } } };

function processSet(name: string, processes: Obj[]): string {
  return JSON.stringify({ apiVersion: `${PS.group}/${PS.version}`, kind: 'ProcessSet', metadata: { name, namespace: NS }, spec: { processes } });
}

const sidecars: Running[] = [];

/** The sidecar in this process, as `a`, its warnings and errors kept in `logs`. */
async function startSidecar(name: string, a: Account, extra: Partial<Parameters<typeof createSidecar>[0]> = {}): Promise<Running> {
  const logs: Obj[] = [];
  const logger = pino({ level: 'warn', base: null }, { write: (line: string) => void logs.push(JSON.parse(line) as Obj) });
  const d = createSidecar({ name, namespace: NS, kubeconfig: a.kubeconfig, logger, listen: '127.0.0.1:0', statusMinIntervalMs: 200, eventAggregateMs: 300, ...extra });
  const r = { name, d, logs };
  sidecars.push(r);
  await d.start();
  return r;
}

async function stopSidecars(): Promise<void> {
  await Promise.all(sidecars.splice(0).map((s) => s.d.stop()));
}

// What the sidecar logs when a call fails (src/k8s/watch-loop.ts, status.ts, events.ts).
const LIST_WATCH_FAILED = 'ProcessSet list/watch failed; retrying';
const STATUS_FAILED = 'writing ProcessSet status failed; retrying';
const CREATE_FAILED = 'creating a Kubernetes Event failed';
const PATCH_FAILED = 'recording a Kubernetes Event failed';
const FAILURES = [LIST_WATCH_FAILED, STATUS_FAILED, CREATE_FAILED, PATCH_FAILED];

/** The log lines `msg` of `s` about a 403 (the status field, or the error text). */
function refusals(s: Running, msg: string): Obj[] {
  return s.logs.filter((l) => l.msg === msg && (l.status === 403 || /\b403\b|forbidden/i.test(String(l.err))));
}

const running = (s: Running, id: string): boolean => s.d.processes().some((p) => p.id === id && p.state === 'Running');

async function statusOf(name: string): Promise<{ processes?: { id: string; state: string }[] } | undefined> {
  const set = (await custom.getNamespacedCustomObject({ ...PS, namespace: NS, name })) as { status?: { processes?: { id: string; state: string }[] } };
  return set.status;
}

async function eventsAbout(name: string): Promise<CoreV1Event[]> {
  return (await core.listNamespacedEvent({ namespace: NS })).items.filter((e) => e.involvedObject.name === name);
}

describe('each verb of deploy/rbac.yaml is needed', () => {
  let control: Running;
  const cases = {} as Record<CaseName, Running>;
  const spec = (name: string): Obj[] => (name === 'example' || name === 'no-event-patch' ? [sleeper('a'), crasher] : [sleeper('a')]);

  beforeAll(async () => {
    const names = Object.keys(CASES) as CaseName[];
    await kubectl(['apply', '-f', '-'], names.map((n) => withRole(n, roleWithout(n, CASES[n]))).join('---\n'));
    for (const name of ['example', ...names]) await kubectl(['apply', '-f', '-'], processSet(name, spec(name)));
    const accounts = await Promise.all(names.map(account));
    const procmgr = await account('procmgr');
    // Start only once each binding is in effect, so that every refusal is the missing verb's.
    await Promise.all([awaitGrants(procmgr, expectedGrants('example')), ...names.map((n, i) => awaitGrants(accounts[i]!, grants(roleWithout(n, CASES[n]))))]);
    [control] = await Promise.all([startSidecar('example', procmgr), ...names.map(async (n, i) => (cases[n] = await startSidecar(n, accounts[i]!, n === 'no-watch' ? { watchBackoffMaxMs: 3_000 } : {})))]);
  });

  afterAll(async () => {
    // The control, with every right it needs, never saw a refusal, nor any other failed call.
    if (control) expect(control.logs.filter((l) => FAILURES.includes(String(l.msg)))).toEqual([]);
    await stopSidecars();
  });

  it('processsets list: without it nothing is ever applied (every list is refused)', async () => {
    const s = cases['no-list'];
    await eventually('two refused lists', () => Promise.resolve(refusals(s, LIST_WATCH_FAILED).length >= 2));
    expect(s.d.processes()).toEqual([]);
    expect(await statusOf('no-list')).toBeUndefined();
    await eventually('the control applies its set', () => Promise.resolve(running(control, 'a')));
  });

  it('processsets watch: without it every watch is refused and the sidecar relists instead, backing off', async () => {
    const s = cases['no-watch'];
    // The list is allowed: the set as it was at the start is applied.
    await eventually('a running', () => Promise.resolve(running(s, 'a')));
    await eventually('the control running a', () => Promise.resolve(running(control, 'a')));
    // Then the watch from that list's resourceVersion is refused; the loop lists again after a
    // delay that grows like client-go's reflector's (800 ms doubling; capped at 3 s here, 30 s by
    // default): a successful list does not reset it. (So an edit still lands, but by polling.)
    const refused = await eventually('three refused watches', () => Promise.resolve(refusals(s, LIST_WATCH_FAILED).length >= 3 && refusals(s, LIST_WATCH_FAILED)), 20_000);
    const delays = refused.slice(0, 3).map((l) => Number(l.retryInMs));
    expect(delays[1], `retry delays ${delays.join(', ')}`).toBeGreaterThan(delays[0]!);
    expect(delays[2], `retry delays ${delays.join(', ')}`).toBeGreaterThan(delays[1]!);
    await kubectl(['apply', '-f', '-'], processSet('no-watch', [sleeper('a'), sleeper('b')]));
    await kubectl(['apply', '-f', '-'], processSet('example', [...spec('example'), sleeper('b')]));
    await eventually('the edit applied by a relist', () => Promise.resolve(running(s, 'b')));
    // The control's one watch delivers the edit: it never failed, so it never listed again.
    await eventually('the edit applied through the watch', () => Promise.resolve(running(control, 'b')));
    expect(control.logs.filter((l) => l.msg === LIST_WATCH_FAILED)).toEqual([]);
  });

  it('processsets/status patch: without it the status never appears', async () => {
    const s = cases['no-status-patch'];
    await eventually('a running', () => Promise.resolve(running(s, 'a')));
    await eventually('two refused status writes', () => Promise.resolve(refusals(s, STATUS_FAILED).length >= 2));
    expect(await statusOf('no-status-patch')).toBeUndefined();
    await eventually('the control status written', async () => (await statusOf('example'))?.processes?.some((p) => p.id === 'a' && p.state === 'Running'));
  });

  it('events create: without it no Event appears', async () => {
    const s = cases['no-event-create'];
    await eventually('a running', () => Promise.resolve(running(s, 'a')));
    await eventually('a refused Event', () => Promise.resolve(refusals(s, CREATE_FAILED).length >= 1));
    expect(await eventsAbout('no-event-create')).toEqual([]);
    await eventually('the control Started Event', async () => (await eventsAbout('example')).some((e) => e.reason === 'Started' && e.message === 'Started process a'));
  });

  it('events patch: without it a repeated Event is created once and its count never goes past 1', async () => {
    const s = cases['no-event-patch'];
    // Every crash is another Started and BackOff of the same series: the first is created, the
    // repeats would raise its count with a patch (at most once per eventAggregateMs).
    await eventually('a refused count update', () => Promise.resolve(refusals(s, PATCH_FAILED).length >= 2));
    const restarts = s.d.processes().find((p) => p.id === 'crasher')?.restarts ?? 0;
    expect(restarts).toBeGreaterThanOrEqual(2);
    const events = await eventsAbout('no-event-patch');
    expect(events.find((e) => e.reason === 'BackOff' && e.message?.includes('crasher'))).toBeDefined();
    expect(events.map((e) => e.count)).toEqual(events.map(() => 1));
    await eventually('the control BackOff count past 1', async () => (await eventsAbout('example')).some((e) => e.reason === 'BackOff' && e.message?.includes('crasher') && (e.count ?? 0) >= 2));
  });
});

// ---------------------------------------------------------------------------------------------
// The ConfigMap source. After the tests above (it adds a Role to the procmgr ServiceAccount of NS).

describe('deploy/components/configmap', () => {
  afterAll(stopSidecars);

  /** A kustomization of one's own, outside deploy/, as README.md shows: deploy/ plus the Component. */
  function userKustomization(): string {
    const dir = tempDir('procmgr-kustomize-');
    dirs.push(dir);
    writeFileSync(`${dir}/kustomization.yaml`, stringify({ resources: [relative(dir, DEPLOY)], components: [relative(dir, COMPONENT)] }));
    return dir;
  }

  it('builds with kubectl kustomize: the base, a Role for the one ConfigMap, and the sidecar pointed at it', async () => {
    const dir = userKustomization();
    const built = parseAllDocuments(await kubectl(['kustomize', dir])).map((d) => d.toJS() as Obj);
    const kinds = built.map((o) => `${String(o.kind)}/${String((o.metadata as Obj).name)}`).sort();
    expect(kinds).toEqual(['ConfigMap/example', 'Deployment/example', 'ProcessSet/example', 'Role/procmgr', 'Role/procmgr-configmap', 'RoleBinding/procmgr', 'RoleBinding/procmgr-configmap', 'ServiceAccount/procmgr'].sort());
    expect(grants(roleRules(built, 'procmgr'))).toEqual(expectedGrants('example'));
    expect(grants(roleRules(built, 'procmgr-configmap'))).toEqual(['list core/configmaps/example', 'watch core/configmaps/example']);
    const binding = built.find((o) => o.kind === 'RoleBinding' && (o.metadata as Obj).name === 'procmgr-configmap') as { subjects: Obj[]; roleRef: Obj };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'procmgr' }]);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'procmgr-configmap' });
    // The ConfigMap's key is a valid process list, under the name the Role allows (no hash suffix).
    const cm = built.find((o) => o.kind === 'ConfigMap') as { data: Record<string, string> };
    const list = parseConfigText(cm.data['processes.yaml'] ?? '', 'processes.yaml') as { processes: unknown };
    expect(parseProcessList(list.processes, 'processes').map((p) => p.id)).toEqual(['web', 'ticker']);
    const deployment = built.find((o) => o.kind === 'Deployment') as { spec: { template: { spec: { initContainers: Obj[] } } } };
    const procmgr = deployment.spec.template.spec.initContainers.find((c) => c.name === 'procmgr');
    expect(procmgr?.args).toEqual(['sidecar', '--configmap', 'example', '--token-file', '/etc/procmgr/api-token/token']);
    // The rest of the container is the base's.
    expect(procmgr?.volumeMounts).toEqual((parseYaml(readFileSync(`${DEPLOY}deployment.yaml`, 'utf8')) as typeof deployment).spec.template.spec.initContainers[0]?.volumeMounts);

    const dry = await kubectl(['apply', '--dry-run=server', '-k', dir, '-n', NS]);
    expect(dry).toContain('role.rbac.authorization.k8s.io/procmgr-configmap');
    expect(dry).toContain('configmap/example');
  });

  it('with its Role the procmgr ServiceAccount may also list and watch that ConfigMap, and a sidecar serves it', async () => {
    await kubectl(['apply', '-n', NS, '-f', `${COMPONENT}rbac.yaml`]);
    const procmgr = await account('procmgr');
    await awaitGrants(procmgr, [...expectedGrants('example'), 'list core/configmaps/example', 'watch core/configmaps/example'].sort());
    // Not the Component's processes (they listen on :8080): one sleeper, under its own id.
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'example', namespace: NS }, data: { 'processes.yaml': stringify({ processes: [sleeper('from-configmap')] }) } };
    await kubectl(['apply', '-f', '-'], JSON.stringify(cm));
    const s = await startSidecar('example', procmgr, { configMapKey: 'processes.yaml' });
    await eventually('the ConfigMap process running', () => Promise.resolve(running(s, 'from-configmap')));
    await eventually('its Started Event', async () => (await eventsAbout('example')).some((e) => e.involvedObject.kind === 'ConfigMap' && e.message === 'Started process from-configmap'));
    expect(s.logs.filter((l) => FAILURES.includes(String(l.msg)))).toEqual([]);
  });
});
