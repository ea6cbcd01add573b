import { z } from 'zod';
import { processIdSchema, processListJsonSchema } from '../config/index.js';
import { PHASES } from '../core/index.js';

/**
 * The ProcessSet CustomResourceDefinition (DESIGN §7), built from the same zod schema that
 * validates the config file (DESIGN §5), so the server, the file and the sidecar agree on what a
 * process is. Plain objects only: `hack/gen-docs.ts` renders them to deploy/crd.yaml, and nothing
 * here needs a Kubernetes client.
 */

export const PROCESSSET_GROUP = 'procmgr.dev';
export const PROCESSSET_VERSION = 'v1alpha1';
export const PROCESSSET_API_VERSION = `${PROCESSSET_GROUP}/${PROCESSSET_VERSION}`;
export const PROCESSSET_KIND = 'ProcessSet';
export const PROCESSSET_PLURAL = 'processsets';
export const PROCESSSET_SINGULAR = 'processset';
// `ps` would read as the Unix command, and `kubectl get ps` as "processes".
export const PROCESSSET_SHORT_NAMES: readonly string[] = ['pset'];

/** A JSON Schema node, as zod emits it and as the CRD carries it. */
export type JsonSchema = Record<string, unknown>;

// Timestamps are RFC 3339 strings on the wire (metav1.Time); zod's own iso.datetime() would add a
// JS-only pattern that the server need not evaluate when `format` already says it.
const timestamp = z.string().meta({ format: 'date-time' });

const conditionSchema = z
  .object({
    type: z.string().min(1).max(316).describe('`Ready`, `Degraded` or `SpecInvalid`.'),
    status: z.enum(['True', 'False', 'Unknown']),
    observedGeneration: z.int().min(0).optional().describe('The `metadata.generation` the condition was computed from.'),
    lastTransitionTime: timestamp.describe('When `status` last changed.'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe('CamelCase machine-readable cause.'),
    message: z.string().max(32768).describe('Human-readable detail; may be empty.'),
  })
  .describe('A condition in the shape of metav1.Condition, so generic tooling (kubectl wait, kstatus) understands it.');

const processStatusSchema = z
  .object({
    id: processIdSchema,
    phase: z.string().describe(`Engine phase: ${PHASES.join(', ')}.`),
    state: z.string().describe('Runtime state: Stopped, Starting, Running, Stopping, Failed, Backoff or Disabled.'),
    ready: z.boolean().describe('Running, and its readiness probe (if any) passes.'),
    restarts: z.int().min(0).describe('Runs started after the first.'),
    pid: z.int().min(1).optional().describe('Pid of the current run, inside the sidecar container.'),
    lastExit: z
      .object({
        code: z.int().optional().describe('Exit code; absent when a signal ended it.'),
        signal: z.string().optional().describe('Signal that ended it, e.g. SIGKILL.'),
        at: timestamp.describe('When it exited.'),
      })
      .optional()
      .describe('How the last run ended.'),
    lastError: z.string().optional().describe('The last error procmgr met driving this process (spawn failure, probe failure, ...).'),
  })
  .describe('One process as the sidecar last saw it.');

/**
 * The `status` a sidecar writes (through the status subresource). Typed here rather than left
 * open, so `kubectl explain` documents it, the printer columns can rely on it, and a writer that
 * drifts from it gets an error instead of a silently pruned field. Phase and state are plain
 * strings: a CRD installed by an older release must not reject the status of a newer sidecar.
 */
export const processSetStatusSchema = z
  .object({
    observedGeneration: z.int().min(0).optional().describe('The `metadata.generation` this status describes.'),
    processCount: z.int().min(0).optional().describe('Processes in the spec (the `Processes` column).'),
    readyCount: z.int().min(0).optional().describe('Processes that are ready (the `Ready Processes` column).'),
    conditions: z.array(conditionSchema).optional().describe('`Ready`: every process is ready. `Degraded`: some process is failing or backing off. `SpecInvalid`: the spec was rejected; the last good spec keeps running.'),
    processes: z.array(processStatusSchema).optional().describe('Per-process status, one entry per spec process.'),
  })
  .describe('Written by the procmgr sidecar serving this ProcessSet.');

/** `status` of a ProcessSet, as written to the API. */
export type ProcessSetStatus = z.input<typeof processSetStatusSchema>;
export type ProcessSetCondition = z.input<typeof conditionSchema>;
export type ProcessSetProcessStatus = z.input<typeof processStatusSchema>;

// Keywords copied as they are: the OpenAPI v3 subset a CRD accepts with the same meaning.
const COPIED = new Set([
  'type', 'title', 'description', 'enum', 'nullable', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum',
  'multipleOf', 'minItems', 'maxItems', 'required', 'minProperties', 'maxProperties',
]);
// Keywords that carry no validation the server could use (or that are handled at the root).
const DROPPED = new Set(['$schema', '$id', '$defs', 'definitions', '$comment', 'examples', 'readOnly', 'writeOnly', 'deprecated', 'id']);
// Formats the API server checks (apiextensions-apiserver validation/formats.go) plus the numeric
// ones it passes through. zod's own (starts_with, ...) always come with a pattern that says it.
const KUBE_FORMATS = new Set(['int32', 'int64', 'float', 'double', 'byte', 'date', 'date-time', 'duration', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'uuid']);
// Per-type keywords: in a merged union node each one applies only to values of its own type.
const STRING_KEYS = ['pattern', 'minLength', 'maxLength', 'format'];
const NUMBER_KEYS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];
const OBJECT_KEYS = ['properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties', 'x-kubernetes-preserve-unknown-fields'];
const ARRAY_KEYS = ['items', 'minItems', 'maxItems'];
const UNION_KEYS = new Set([...STRING_KEYS, ...NUMBER_KEYS, ...OBJECT_KEYS, ...ARRAY_KEYS, 'type', 'nullable']);

function isSchema(v: unknown): v is JsonSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function omit(node: JsonSchema, ...keys: string[]): JsonSchema {
  return Object.fromEntries(Object.entries(node).filter(([k]) => !keys.includes(k)));
}

class Converter {
  readonly #defs: Readonly<Record<string, unknown>>;
  readonly #resolving: string[] = [];

  constructor(root: JsonSchema) {
    this.#defs = { ...(isSchema(root.definitions) ? root.definitions : {}), ...(isSchema(root.$defs) ? root.$defs : {}) };
  }

  convert(node: unknown, path: string): JsonSchema {
    return ordered(this.#convert(node, path));
  }

  #convert(node: unknown, path: string): JsonSchema {
    if (!isSchema(node)) throw new Error(`${path}: expected a schema object, got ${JSON.stringify(node)}`);
    if (typeof node.$ref === 'string') return this.#inline(node, path);
    if (Array.isArray(node.anyOf) || Array.isArray(node.oneOf)) return this.#union(node, path);
    if (Array.isArray(node.type)) throw new Error(`${path}: a list of types has no structural form; use anyOf`);

    const out: JsonSchema = {};
    for (const [key, value] of Object.entries(node)) {
      if (COPIED.has(key)) out[key] = value;
      else if (key === 'const') out.enum = [value];
      else if (key === 'format') {
        if (typeof value === 'string' && KUBE_FORMATS.has(value)) out.format = value;
      } else if (key === 'exclusiveMinimum' || key === 'exclusiveMaximum') {
        // JSON Schema 2020-12 writes the bound itself; OpenAPI 3.0 (and a CRD) a flag next to it.
        if (typeof value === 'number') Object.assign(out, { [key === 'exclusiveMinimum' ? 'minimum' : 'maximum']: value, [key]: true });
        else out[key] = value;
      } else if (key === 'properties') {
        if (!isSchema(value)) throw new Error(`${path}.properties: expected an object`);
        out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.convert(v, `${path}.${k}`)]));
      } else if (key === 'items') out.items = this.convert(value, `${path}[]`);
      else if (key === 'additionalProperties') Object.assign(out, this.#additional(node, value, path));
      else if (key === 'default') continue; // see withDefaultNote
      else if (DROPPED.has(key)) continue;
      else throw new Error(`${path}: JSON Schema keyword "${key}" has no structural-schema form in a CRD`);
    }
    return withDefaultNote(out, node);
  }

  /**
   * A map (`additionalProperties: <schema>`) converts as is. `false` next to `properties` is
   * what every strict zod object emits, and a structural schema forbids it ("additionalProperties
   * and properties are mutual exclusive"): the server prunes unknown fields of a structural schema
   * instead, and rejects them when the client asks for strict field validation (kubectl's default).
   */
  #additional(node: JsonSchema, value: unknown, path: string): JsonSchema {
    if (value === false) return {};
    if (value === true || (isSchema(value) && Object.keys(value).length === 0)) {
      if (node.properties !== undefined) return {};
      return { 'x-kubernetes-preserve-unknown-fields': true };
    }
    if (node.properties !== undefined) throw new Error(`${path}: properties with an additionalProperties schema has no structural form`);
    return { additionalProperties: this.convert(value, `${path}.*`) };
  }

  // A CRD has no $ref: definitions are inlined, so a recursive schema cannot be expressed.
  #inline(node: JsonSchema, path: string): JsonSchema {
    const ref = String(node.$ref);
    const name = /^#\/(?:\$defs|definitions|components\/schemas)\/(.+)$/.exec(ref)?.[1];
    const target = name === undefined ? undefined : this.#defs[name];
    if (name === undefined || target === undefined) throw new Error(`${path}: cannot resolve $ref ${ref}`);
    if (this.#resolving.includes(name)) throw new Error(`${path}: $ref ${ref} is recursive, which a CRD schema cannot express`);
    this.#resolving.push(name);
    try {
      return this.convert({ ...(isSchema(target) ? target : {}), ...omit(node, '$ref') }, path);
    } finally {
      this.#resolving.pop();
    }
  }

  /**
   * `anyOf`/`oneOf` over types. A structural schema gives every node one type outside its
   * junctors, and forbids `type` inside them, so a union of types becomes one node whose
   * per-type keywords (pattern for strings, minimum for numbers, properties for objects) each
   * apply only to values of their own type:
   * - integer | string: `x-kubernetes-int-or-string: true` (the server checks the two types);
   * - other mixes (a dependency is an id or an object): no type and
   *   `x-kubernetes-preserve-unknown-fields: true`. The server still checks each form's own
   *   keywords but accepts any type, and keeps unknown fields of the object form; the sidecar's
   *   zod parse rejects the rest (SpecInvalid).
   */
  #union(node: JsonSchema, path: string): JsonSchema {
    const key = Array.isArray(node.anyOf) ? 'anyOf' : 'oneOf';
    const outer = omit(node, 'anyOf', 'oneOf');
    const raw = node[key] as unknown[];
    let nullable = false;
    const branches: JsonSchema[] = [];
    raw.forEach((b, i) => {
      if (isSchema(b) && b.type === 'null') nullable = true;
      else branches.push(this.convert(b, `${path}(${key}[${i}])`));
    });
    const base = this.convert(outer, path);
    if (nullable) base.nullable = true;
    if (branches.length === 1) return { ...branches[0], ...base };

    const types = branches.map((b) => b.type);
    if (types.some((t) => typeof t !== 'string') || new Set(types).size !== types.length) {
      throw new Error(`${path}: ${key} has no structural form unless each branch has its own type (got ${JSON.stringify(types)})`);
    }
    if (types.includes('integer') && types.includes('number')) throw new Error(`${path}: ${key} of integer and number has no structural form`);
    const merged: JsonSchema = {};
    for (const b of branches) {
      for (const [k, v] of Object.entries(b)) {
        if (k === 'type') continue;
        // enum, description and the like would apply to every branch's values once merged.
        if (!UNION_KEYS.has(k)) {
          if (k === 'description' || k === 'title') continue;
          throw new Error(`${path}: "${k}" inside ${key} would apply to every branch once merged`);
        }
        merged[k] = v;
      }
    }
    const intOrString = types.length === 2 && types.includes('integer') && types.includes('string');
    return intOrString
      ? { ...merged, ...base, 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] }
      : { ...merged, ...base, 'x-kubernetes-preserve-unknown-fields': true };
  }
}

// The server would apply `default`s when it stores an object, rewriting what the user applied
// and freezing today's defaults into it; procmgr applies its own when it parses the spec, so the
// CRD only documents them (for `kubectl explain`).
function withDefaultNote(out: JsonSchema, node: JsonSchema): JsonSchema {
  if (node.default === undefined) return out;
  const note = `Default: ${JSON.stringify(node.default)}.`;
  const description = typeof out.description === 'string' ? `${out.description} ${note}` : note;
  return { ...out, description };
}

// deploy/crd.yaml is read by people: what a node is first, its children last.
const FIRST = ['description', 'type', 'x-kubernetes-int-or-string', 'x-kubernetes-preserve-unknown-fields', 'title'];
const LAST = ['required', 'properties', 'additionalProperties', 'items', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys'];

function ordered(node: JsonSchema): JsonSchema {
  const rank = (k: string): number => (FIRST.includes(k) ? FIRST.indexOf(k) - FIRST.length : LAST.includes(k) ? LAST.indexOf(k) + 1 : 0);
  return Object.fromEntries(Object.entries(node).sort(([a], [b]) => rank(a) - rank(b)));
}

/**
 * `schema` (JSON Schema, OpenAPI 3.0 dialect, as `z.toJSONSchema` emits it) as a structural
 * schema the API server accepts in a CRD. Throws on a construct a CRD cannot express, so a schema
 * change that needs a new conversion fails `npm run docs` and the tests rather than the apply.
 */
export function toStructuralSchema(schema: JsonSchema): JsonSchema {
  return new Converter(schema).convert(schema, '$');
}

function specSchema(): JsonSchema {
  const processes = toStructuralSchema(processListJsonSchema('openapi-3.0'));
  const items = processes.items;
  if (!isSchema(items) || !Array.isArray(items.required) || !items.required.includes('id')) throw new Error('processes[].id must be required to key the list');
  return {
    type: 'object',
    description: 'What the sidecar should run: the `processes` list of the procmgr config file, validated with the same schema.',
    required: ['processes'],
    properties: {
      // A map-list keyed by id: the server rejects duplicate ids, and server-side apply merges
      // entries by id instead of replacing the whole list.
      processes: { ...processes, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['id'] },
    },
  };
}

function statusSchema(): JsonSchema {
  const status = toStructuralSchema(z.toJSONSchema(processSetStatusSchema, { io: 'input', target: 'openapi-3.0' }));
  const props = status.properties;
  if (!isSchema(props) || !isSchema(props.conditions) || !isSchema(props.processes)) throw new Error('status schema lost its lists');
  return {
    ...status,
    properties: {
      ...props,
      conditions: { ...props.conditions, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
      processes: { ...props.processes, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['id'] },
    },
  };
}

/** The CustomResourceDefinition of ProcessSet (deploy/crd.yaml is this, rendered). */
export function processSetCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PROCESSSET_PLURAL}.${PROCESSSET_GROUP}` },
    spec: {
      group: PROCESSSET_GROUP,
      names: {
        kind: PROCESSSET_KIND,
        listKind: `${PROCESSSET_KIND}List`,
        plural: PROCESSSET_PLURAL,
        singular: PROCESSSET_SINGULAR,
        shortNames: [...PROCESSSET_SHORT_NAMES],
        categories: ['procmgr'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: PROCESSSET_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Processes', type: 'integer', jsonPath: '.status.processCount' },
            { name: 'Ready Processes', type: 'integer', jsonPath: '.status.readyCount' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'Processes a procmgr sidecar keeps running in its pod, like a kubelet for processes.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: specSchema(),
                status: statusSchema(),
              },
            },
          },
        },
      ],
    },
  };
}
