/**
 * JSON Schema (as zod emits it) to the structural schema a CRD must carry: the OpenAPI v3 subset
 * the API server accepts, with unions folded the way the server needs them. Plain objects only.
 */

/** A JSON Schema node, as zod emits it and as the CRD carries it. */
export type JsonSchema = Record<string, unknown>;

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

export function isSchema(v: unknown): v is JsonSchema {
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
