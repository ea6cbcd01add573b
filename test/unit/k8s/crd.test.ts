import { readdirSync, readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseProcessList } from '../../../src/config/index.js';
import { info } from '../api/fake-backend.js';
import { PROCESSSET_GROUP, PROCESSSET_KIND, PROCESSSET_PLURAL, PROCESSSET_VERSION, buildStatus, processSetCrd, processSetStatusSchema, toStructuralSchema, type JsonSchema } from '../../../src/k8s/index.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => {
  expect(typeof v === 'object' && v !== null && !Array.isArray(v), `expected an object, got ${JSON.stringify(v)}`).toBe(true);
  return v as Obj;
};
const list = (v: unknown): unknown[] => {
  expect(Array.isArray(v), `expected a list, got ${JSON.stringify(v)}`).toBe(true);
  return v as unknown[];
};

const version = obj(list(obj(processSetCrd().spec).versions)[0]);
const root = obj(obj(version.schema).openAPIV3Schema);
const spec = obj(obj(root.properties).spec);
const processes = obj(obj(spec.properties).processes);
const proc = obj(obj(processes.items).properties);

/**
 * The structural-schema rules of apiextensions-apiserver (pkg/apiserver/schema/validation.go)
 * that a conversion slip would break; test/k8s/deploy.test.ts proves the whole CRD on a real
 * API server, this finds the node offline.
 */
function structuralViolations(node: JsonSchema, path: string, out: string[]): string[] {
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (typeof node.type !== 'string' && !intOrString && !preserve) out.push(`${path}: no type`);
  if (intOrString && node.type !== undefined) out.push(`${path}: type next to x-kubernetes-int-or-string`);
  if (node.additionalProperties !== undefined && node.properties !== undefined) out.push(`${path}: additionalProperties with properties`);
  for (const k of ['$ref', '$defs', 'definitions', '$schema', 'default', 'oneOf', 'allOf', 'not', 'const']) if (k in node) out.push(`${path}: ${k}`);
  if (node.anyOf !== undefined && !(intOrString && JSON.stringify(node.anyOf) === '[{"type":"integer"},{"type":"string"}]')) out.push(`${path}: anyOf`);
  for (const [k, v] of Object.entries(obj(node.properties ?? {}))) structuralViolations(obj(v), `${path}.${k}`, out);
  if (node.items !== undefined) structuralViolations(obj(node.items), `${path}[]`, out);
  if (typeof node.additionalProperties === 'object') structuralViolations(obj(node.additionalProperties), `${path}.*`, out);
  return out;
}

describe('processSetCrd', () => {
  it('names the ProcessSet kind in procmgr.dev/v1alpha1, namespaced, with a status subresource', () => {
    const crd = processSetCrd();
    expect(crd).toMatchObject({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'processsets.procmgr.dev' } });
    expect(crd.spec).toMatchObject({
      group: PROCESSSET_GROUP,
      scope: 'Namespaced',
      names: { kind: PROCESSSET_KIND, plural: PROCESSSET_PLURAL, singular: 'processset', listKind: 'ProcessSetList', shortNames: ['pset'] },
    });
    expect(version).toMatchObject({ name: PROCESSSET_VERSION, served: true, storage: true, subresources: { status: {} } });
    expect(list(version.additionalPrinterColumns).map((c) => obj(c).name)).toEqual(['Ready', 'Status', 'Generation', 'Observed', 'Reason', 'Age']);
  });

  it('is a structural schema throughout (spec and status)', () => {
    expect(structuralViolations(root, '$', [])).toEqual([]);
  });

  it('turns durations, sizes and user/group into x-kubernetes-int-or-string, keeping each branch\'s bounds', () => {
    const restart = obj(obj(proc.restart).properties);
    expect(restart.delay).toMatchObject({ 'x-kubernetes-int-or-string': true, title: 'duration', minimum: 0 });
    expect(obj(obj(proc.resources).properties).memory).toMatchObject({ 'x-kubernetes-int-or-string': true, title: 'size' });
    expect(proc.user).toMatchObject({ 'x-kubernetes-int-or-string': true, minLength: 1, minimum: 0 });
  });

  it('keeps enums, patterns and required fields, and keys the list by id', () => {
    expect(obj(obj(proc.restart).properties).policy).toMatchObject({ type: 'string', enum: ['never', 'on-failure', 'always', 'unless-stopped'] });
    expect(obj(processes.items).required).toEqual(['id']);
    expect(processes).toMatchObject({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['id'] });
    expect(spec.required).toEqual(['processes']);
  });

  it('documents defaults instead of letting the server apply them', () => {
    expect(obj(proc.stopGracePeriod).default).toBeUndefined();
    expect(obj(proc.stopGracePeriod).description).toMatch(/Default: "10s"\.$/);
  });

  it('keeps a dependency\'s two forms (id or object) as one untyped node that still checks each form', () => {
    expect(obj(obj(proc.dependsOn).items)).toMatchObject({
      'x-kubernetes-preserve-unknown-fields': true,
      pattern: expect.any(String) as unknown,
      required: ['id'],
      properties: { condition: { enum: ['started', 'ready', 'completed'] } },
    });
  });

  it('types the status the sidecar writes: conditions keyed by type, processes keyed by id', () => {
    const status = obj(obj(root.properties).status);
    const props = obj(status.properties);
    expect(Object.keys(props)).toEqual(['observedGeneration', 'processCount', 'readyCount', 'readyProcesses', 'summary', 'conditions', 'processes']);
    expect(props.conditions).toMatchObject({ 'x-kubernetes-list-map-keys': ['type'], items: { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] } });
    expect(props.processes).toMatchObject({ 'x-kubernetes-list-map-keys': ['id'], items: { required: ['id', 'phase', 'state', 'ready', 'restarts'] } });
    expect(processSetStatusSchema.safeParse({ conditions: [{ type: 'Ready', status: 'True', reason: 'AllReady', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }] }).success).toBe(true);
  });

  it('counts requested restarts apart from restarts, optional so a status from an older sidecar still validates', () => {
    const items = obj(obj(obj(obj(root.properties).status).properties).processes).items;
    expect(obj(obj(items).properties).requestedRestarts).toMatchObject({ type: 'integer', minimum: 0 });
    const older = { id: 'web', phase: 'Syncing', state: 'Running', ready: true, restarts: 0 };
    expect(processSetStatusSchema.safeParse({ processes: [older] }).success).toBe(true);
    const { status } = buildStatus({ processes: [info('web', { restarts: 2, requestedRestarts: 5 })], appliedGeneration: 3, rejected: undefined, now: 0 });
    expect(status.processes).toMatchObject([{ id: 'web', restarts: 2, requestedRestarts: 5 }]);
    expect(processSetStatusSchema.safeParse(status).success).toBe(true);
  });
});

describe('toStructuralSchema', () => {
  it('inlines $ref definitions', () => {
    const schema = { $schema: 'x', type: 'object', properties: { a: { $ref: '#/$defs/A', description: 'the a' } }, $defs: { A: { type: 'string', default: 'z' } } };
    expect(toStructuralSchema(schema)).toEqual({ type: 'object', properties: { a: { description: 'the a Default: "z".', type: 'string' } } });
  });

  it('refuses what a CRD cannot express, naming the node', () => {
    const recursive = { type: 'object', properties: { child: { $ref: '#/$defs/N' } }, $defs: { N: { type: 'object', properties: { child: { $ref: '#/$defs/N' } } } } };
    expect(() => toStructuralSchema(recursive)).toThrow(/\$\.child\.child: .*recursive/);
    expect(() => toStructuralSchema({ type: 'object', properties: { a: { type: 'string', patternProperties: {} } } })).toThrow(/\$\.a: .*"patternProperties"/);
    expect(() => toStructuralSchema({ anyOf: [{ type: 'object' }, { type: 'object' }] })).toThrow(/each branch has its own type/);
    expect(() => toStructuralSchema({ anyOf: [{ type: 'string', enum: ['a'] }, { type: 'integer' }] })).toThrow(/"enum" inside anyOf/);
  });

  it('turns a nullable union into nullable, and additionalProperties: false into nothing', () => {
    expect(toStructuralSchema({ anyOf: [{ type: 'string' }, { type: 'null' }] })).toEqual({ type: 'string', nullable: true });
    expect(toStructuralSchema({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false })).toEqual({ type: 'object', properties: { a: { type: 'string' } } });
  });
});

describe('deploy/', () => {
  const dir = new URL('../../../deploy/', import.meta.url);
  const docs = (file: string): Obj[] => parseAllDocuments(readFileSync(new URL(file, dir), 'utf8')).map((d) => obj(d.toJS()));

  it('the kustomization lists every manifest but the CRD, which is cluster-scoped and applied first (README.md)', () => {
    const manifests = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && f !== 'crd.yaml').sort();
    expect([...list(docs('kustomization.yaml')[0]?.resources)].sort()).toEqual(manifests);
  });

  it('the example ProcessSet is valid for procmgr itself, not only for the API server', () => {
    const [set] = docs('processset.yaml');
    expect(parseProcessList(obj(set?.spec).processes).map((p) => p.id)).toEqual(['web', 'ticker']);
  });

  it('the sidecar, the Role and the ProcessSet name the same set', () => {
    const name = obj(docs('processset.yaml')[0]?.metadata).name;
    const deployment = docs('deployment.yaml')[0];
    const sidecar = obj(list(obj(obj(obj(deployment?.spec).template).spec).initContainers)[0]);
    expect(sidecar).toMatchObject({ image: 'procmgr:dev', restartPolicy: 'Always' });
    const args = list(sidecar.args);
    expect(args.slice(0, 3)).toEqual(['sidecar', '--processset', name]);
    // The API token comes from a mounted Secret, at the path the flag names.
    const tokenFile = String(args[args.indexOf('--token-file') + 1]);
    const mounts = list(sidecar.volumeMounts).map(obj);
    expect(mounts.some((m) => tokenFile.startsWith(`${String(m.mountPath).replace(/\/$/, '')}/`))).toBe(true);
    expect(list(sidecar.env).map((e) => obj(e).name)).toEqual(['POD_NAMESPACE', 'POD_NAME', 'POD_UID']);
    const role = docs('rbac.yaml').find((d) => d.kind === 'Role');
    const named = list(role?.rules).map(obj).filter((r) => r.resourceNames !== undefined);
    expect(named.length).toBeGreaterThan(0);
    for (const rule of named) expect(rule.resourceNames).toEqual([name]);
  });
});
