import { isProcmgrError, ProcmgrError } from '../util/index.js';
import { z } from 'zod';

/** One problem in a config: where (`processes[2].probes.liveness.http.port`) and what is wrong. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** A config (file, API body, process spec) was rejected. `problems` names every bad field; nothing was applied. */
export class ConfigError extends ProcmgrError<'INVALID_CONFIG'> {
  /** The first `MAX_PROBLEMS` problems. */
  readonly problems: readonly ConfigProblem[];
  /** How many problems there are in all (`details.total` too, when more than are kept). */
  readonly total: number;

  constructor(what: string, problems: readonly ConfigProblem[]) {
    const kept = problems.slice(0, MAX_PROBLEMS);
    const list = kept.slice(0, 10).map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ');
    const more = problems.length > 10 ? `; … (${problems.length} problems in all)` : '';
    super('INVALID_CONFIG', `invalid ${what}: ${list}${more}`, { details: { problems: kept, ...(problems.length > kept.length ? { total: problems.length } : {}) } });
    this.problems = kept;
    this.total = problems.length;
  }
}

/**
 * Problems kept in a `ConfigError` (its message names the first ten): a file or a body of
 * thousands of bad entries must not become an answer or a log line of megabytes.
 */
export const MAX_PROBLEMS = 100;

/** True for a `ConfigError`, also one from another copy of this package (checked by code, not instanceof). */
export function isConfigError(err: unknown): err is ConfigError {
  return isProcmgrError(err) && err.code === 'INVALID_CONFIG';
}

/** Renders a zod path the way users write it: `processes[2].probes.liveness.http.port`. */
export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Renders a user's value for a message, short and without ever throwing. */
export function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

/**
 * Turns zod issues into problems of the form "expected X, got Y". With `reportInput: true` on the
 * parse the issues carry the bad value, so it is shown; without, its type is. Given the `schema`
 * that was parsed, the expectation comes from its JSON Schema (`integer 1-65535`, the allowed
 * keys), because zod's own issue only knows the first check that failed.
 */
export function problemsOf(error: z.ZodError, prefix = '', schema?: z.ZodType): ConfigProblem[] {
  const root = schema === undefined ? undefined : jsonSchemaOf(schema);
  return expandUnions(error.issues).flatMap((issue) => {
    const node = root && nodeAt(root, issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key], prefix), message: unknownKey(key, node) }));
    }
    return [{ path: formatPath(issue.path, prefix), message: messageOf(issue, node) }];
  });
}

/**
 * A union that failed in exactly one branch of the input's own shape (an object given where
 * "id or { id, condition }" is allowed) is reported by that branch's issues, which name the field
 * and value, instead of "expected a string or a mapping".
 */
function expandUnions(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== 'invalid_union') return [issue];
    const shaped = issue.errors.filter((branch) => !(branch.length === 1 && branch[0]?.code === 'invalid_type' && branch[0].path.length === 0));
    if (shaped.length !== 1) return [issue];
    return expandUnions((shaped[0] ?? []).map((i) => ({ ...i, path: [...issue.path, ...i.path] })));
  });
}

interface JsonNode {
  readonly type?: string;
  readonly title?: string;
  readonly enum?: readonly unknown[];
  readonly anyOf?: readonly JsonNode[];
  readonly items?: JsonNode;
  readonly properties?: Readonly<Record<string, JsonNode>>;
  readonly additionalProperties?: JsonNode | boolean;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly minLength?: number;
}

// Only failed parses get here, so the cost of rendering a schema once per schema is irrelevant.
const jsonSchemas = new WeakMap<z.ZodType, JsonNode>();

function jsonSchemaOf(schema: z.ZodType): JsonNode {
  let json = jsonSchemas.get(schema);
  if (!json) {
    json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonNode;
    jsonSchemas.set(schema, json);
  }
  return json;
}

function nodeAt(root: JsonNode, path: readonly PropertyKey[]): JsonNode | undefined {
  let node: JsonNode | undefined = root;
  for (const key of path) {
    if (!node) return undefined;
    node = childOf(node, key);
  }
  return node;
}

function childOf(node: JsonNode, key: PropertyKey): JsonNode | undefined {
  if (typeof key === 'number') return node.items;
  const prop = node.properties?.[String(key)];
  if (prop) return prop;
  if (typeof node.additionalProperties === 'object') return node.additionalProperties;
  for (const branch of node.anyOf ?? []) {
    const hit = childOf(branch, key);
    if (hit) return hit;
  }
  return undefined;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** "integer 1-65535", "a duration like …", "one of "a", "b"" — what the schema at a path accepts. */
function expectation(node: JsonNode): string | undefined {
  if (node.title === 'duration') return 'a duration like "500ms", "5s", "1m" or a number of milliseconds';
  if (node.title === 'size') return 'a size like "512Mi", "10MB" or a number of bytes';
  if (node.enum) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  if (node.anyOf) {
    const parts = node.anyOf.map(expectation);
    return parts.every((p) => p !== undefined) ? parts.join(' or ') : undefined;
  }
  if (node.type === 'integer' || node.type === 'number') return numberRange(node.type, node);
  if (node.type === 'string') return node.minLength === 1 ? 'a non-empty string' : 'a string';
  if (node.type === 'boolean') return 'true or false';
  if (node.type === 'array') return node.items && expectation(node.items) ? `a list of ${expectation(node.items)}` : 'a list';
  if (node.type === 'object') return 'a mapping';
  return undefined;
}

function numberRange(type: string, n: JsonNode): string {
  const max = n.maximum !== undefined && n.maximum < MAX_SAFE ? n.maximum : undefined;
  const min = n.minimum !== undefined && n.minimum > -MAX_SAFE ? n.minimum : undefined;
  if (min !== undefined && max !== undefined) return `${type} ${min}-${max}`;
  if (min !== undefined) return `${type} >= ${min}`;
  if (n.exclusiveMinimum !== undefined) return `${type} > ${n.exclusiveMinimum}`;
  if (max !== undefined) return `${type} <= ${max}`;
  return type === 'integer' ? 'an integer' : 'a number';
}

const ZOD_TYPES: Readonly<Record<string, string>> = { int: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', array: 'a list', object: 'a mapping', record: 'a mapping' };

/** The bad value as shown to users; undefined when the parse did not report it (no `reportInput`). */
function got(issue: z.core.$ZodIssue): string | undefined {
  if ('input' in issue) return isSecret(issue.path) ? kindOf(issue.input) : showValue(issue.input);
  // zod's own invalid_type message still names the type it received.
  const received = /received (\w+)/.exec(issue.message)?.[1];
  return received === undefined ? undefined : received === 'undefined' ? 'nothing' : `a ${received}`;
}

/**
 * Values that may be secrets (a process's `env` values, the API token) are described by their
 * kind only: problems are logged, and logs are read by more people than the config file.
 */
function isSecret(path: readonly PropertyKey[]): boolean {
  const env = path.lastIndexOf('env');
  return (env >= 0 && env < path.length - 1) || path[path.length - 1] === 'token';
}

function kindOf(v: unknown): string {
  if (v === undefined || v === null || typeof v === 'object') return showValue(v);
  return `a ${typeof v} (value not shown)`;
}

function expectedGot(expected: string, issue: z.core.$ZodIssue): string {
  const value = got(issue);
  if (value === 'nothing') return `required: expected ${expected}`;
  return value === undefined ? `expected ${expected}` : `expected ${expected}, got ${value}`;
}

function formatOf(issue: z.core.$ZodIssueInvalidStringFormat): string {
  if (issue.format === 'starts_with' && 'prefix' in issue) return `a string starting with ${JSON.stringify(issue.prefix)}`;
  if (issue.format === 'ends_with' && 'suffix' in issue) return `a string ending with ${JSON.stringify(issue.suffix)}`;
  if (issue.format === 'regex' && issue.pattern !== undefined) return `a string matching /${issue.pattern}/`;
  return `a string in ${issue.format} format`;
}

function messageOf(issue: z.core.$ZodIssue, node: JsonNode | undefined): string {
  const expected = node && expectation(node);
  switch (issue.code) {
    case 'invalid_type':
      return expectedGot(expected ?? ZOD_TYPES[issue.expected] ?? issue.expected, issue);
    case 'too_big':
    case 'too_small': {
      const bound = issue.code === 'too_big' ? `<= ${String(issue.maximum)}` : `>= ${String(issue.minimum)}`;
      const nonEmpty = issue.origin === 'string' && issue.code === 'too_small' && issue.minimum === 1;
      return expectedGot(expected ?? (nonEmpty ? 'a non-empty string' : `${issue.origin} ${bound}`), issue);
    }
    case 'invalid_value':
      return expectedGot(`one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`, issue);
    case 'invalid_union': {
      const branches = issue.errors.map((e) => (e[0]?.code === 'invalid_type' ? ZOD_TYPES[e[0].expected] ?? e[0].expected : undefined));
      const fallback = branches.length > 0 && branches.every((b) => b !== undefined) ? branches.join(' or ') : 'one of the allowed forms';
      return expectedGot(expected ?? fallback, issue);
    }
    case 'invalid_format':
      // A schema's own message (umask's "expected an octal mask") beats the generic one.
      return issue.message.startsWith('Invalid') ? expectedGot(formatOf(issue), issue) : withValue(issue);
    case 'custom':
      // Ours (units, process-spec, refinements): they name the value where it helps. Their
      // reported input is the refined parent, not the field, so it is not appended.
      return issue.message;
    default:
      return withValue(issue);
  }
}

/** Adds the value to a message that does not name it. */
function withValue(issue: z.core.$ZodIssue): string {
  const value = got(issue);
  return value === undefined || /\bgot\b/.test(issue.message) ? issue.message : `${issue.message}, got ${value}`;
}

function unknownKey(key: string, node: JsonNode | undefined): string {
  const known = Object.keys(node?.properties ?? {});
  if (known.length === 0) return 'unknown key';
  const close = known.filter((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
  if (close.length > 0) return `unknown key; did you mean ${close.map((k) => `"${k}"`).join(' or ')}?`;
  return `unknown key; expected one of ${known.join(', ')}`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
