import { open, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { daemonConfigSchema, processListSchema, type DaemonConfig, type Dependency, type DependencyCondition, type ProcessEntry } from './daemon-config.js';
import { ConfigError, formatPath, isConfigError, problemsOf, type ConfigProblem } from './errors.js';
import { graphProblems, isObject } from './graph.js';
import type { ProcessSpecInput } from './process-spec.js';
import { describe } from '../util/index.js';

/**
 * Reading the daemon's config: text → YAML → validated `DaemonConfig`. Every problem of a file
 * (schema and cross-entry checks alike) is reported in one `ConfigError`, so a user fixes a file
 * in one round. Called by the daemon at start and on reload, and by the API for a PUT body.
 */

/**
 * Parses YAML (JSON is YAML) into plain data; an empty file is `null`. Syntax errors become a
 * `ConfigError` whose problem paths are `source:line:col`.
 */
export function parseConfigText(text: string, source: string): unknown {
  // JSON is YAML, but JSON.parse reads it far faster than the YAML parser:
  // a big generated config should be JSON. Only a failure goes to the YAML parser, for its positions.
  if (/^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // not JSON after all (YAML flow style), or broken: the YAML parser says which and where
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      return { path: `${source}:${line}:${col}`, message: e.message };
    });
    throw new ConfigError(`YAML in ${source}`, problems);
  }
  try {
    return doc.toJS() as unknown;
  } catch (err) {
    // Resolving the document can still fail (an undefined alias, an alias bomb): bad input, not a crash.
    return badYaml(source, err);
  }
}

function badYaml(source: string, err: unknown): never {
  throw new ConfigError(`YAML in ${source}`, [{ path: source, message: describe(err) }]);
}

/**
 * Validates a whole config (parsed YAML or JSON). `null` is an empty config (an empty file), and
 * so are `processManager:` and `processes:` left empty (all entries commented out). Relative
 * paths are kept as written; `loadConfigFile` resolves them. `where` names the source in the error.
 */
export function parseDaemonConfig(input: unknown, where = ''): DaemonConfig {
  const raw = withoutNulls(input);
  const result = daemonConfigSchema.safeParse(raw, { reportInput: true });
  const problems = result.success ? [] : problemsOf(result.error, '', daemonConfigSchema);
  const top = isObject(raw) ? raw : {};
  problems.push(...protoProblems(raw, '', problems), ...tokenProblems(top.processManager), ...graphProblems(top.processes, 'processes'));
  const max = result.success ? result.data.processManager.engine.maxProcesses : undefined;
  if (max !== undefined && Array.isArray(top.processes) && top.processes.length > max) {
    problems.push({ path: 'processes', message: `expected at most ${max} processes (processManager.engine.maxProcesses), got ${top.processes.length}` });
  }
  if (!result.success || problems.length > 0) throw new ConfigError(where === '' ? 'config' : `config ${where}`, problems);
  return { processManager: result.data.processManager, processes: entriesOf(top.processes) };
}

/**
 * Validates a `processes` list alone (the API's PUT body, the CRD's spec) with the same checks as
 * the file's section. `where` prefixes the paths in problems (`processes[2].id`).
 */
export function parseProcessList(input: unknown, where = 'processes'): ProcessEntry[] {
  const result = processListSchema.safeParse(input, { reportInput: true });
  const problems = result.success ? [] : problemsOf(result.error, where, processListSchema);
  problems.push(...protoProblems(input, where, problems), ...graphProblems(input, where));
  if (!result.success || problems.length > 0) throw new ConfigError('process list', problems);
  return entriesOf(input);
}

/**
 * Reads, parses and validates a config file, makes its relative paths absolute against the
 * file's directory and reads `tokenFile`. Throws `ConfigError` for a missing or unreadable
 * file too, so the caller has one error type to report.
 */
export async function loadConfigFile(path: string): Promise<DaemonConfig> {
  return (await readConfigFile(path)).config;
}

/** `loadConfigFile` that also returns the text it read (the daemon's watcher baseline: one read, no gap). */
export async function readConfigFile(path: string): Promise<{ readonly text: string; readonly config: DaemonConfig }> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readConfigText(file);
  } catch (err) {
    if (isConfigError(err)) throw err;
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ConfigError(`config file ${file}`, [{ path: file, message: missing ? 'no such file' : `cannot read: ${describe(err)}` }]);
  }
  return { text, config: await loadConfigText(text, file) };
}

/**
 * The most of a config file procmgr reads: parsing YAML takes heap and time many times the size
 * of the text, so a much bigger file would stall or exhaust the daemon. About 5 000 processes fit.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Reads a config file's text, at most `MAX_CONFIG_BYTES` (read bounded, so a file that grows
 * meanwhile, or a device, cannot make it read more). Throws `ConfigError` naming the file when it
 * is larger, and the file system's own error when it cannot be read.
 */
export async function readConfigText(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let size = 0;
    for (let n = -1; n !== 0 && size <= MAX_CONFIG_BYTES; size += n) n = (await handle.read(buffer, size, buffer.length - size, null)).bytesRead;
    if (size > MAX_CONFIG_BYTES) {
      const message = `the file is larger than ${MAX_CONFIG_BYTES} bytes (1 MiB), the most procmgr reads; split the processes over the API, or use the library`;
      throw new ConfigError(`config file ${file}`, [{ path: file, message }]);
    }
    return buffer.toString('utf8', 0, size);
  } finally {
    await handle.close();
  }
}

/** `loadConfigFile` for text already read from `file` (the watcher's), so it is not read twice. */
export async function loadConfigText(text: string, file: string): Promise<DaemonConfig> {
  const config = resolveConfigPaths(parseDaemonConfig(parseConfigText(text, file), file), dirname(file));
  const tokenFile = config.processManager.api.tokenFile;
  if (tokenFile === undefined) return config;
  const token = await readTokenFile(tokenFile, `config file ${file}`);
  return { ...config, processManager: { ...config.processManager, api: { ...config.processManager.api, token } } };
}

/**
 * Reads an API token file (surrounding whitespace trimmed). Throws `ConfigError` at
 * `processManager.api.tokenFile` for a missing, unreadable, empty or oversized file; the
 * message never contains the file's content. `where` names the source in the error.
 */
export async function readTokenFile(tokenFile: string, where: string): Promise<string> {
  const problem = (message: string): ConfigError => new ConfigError(where, [{ path: 'processManager.api.tokenFile', message }]);
  let text: string;
  try {
    const st = await stat(tokenFile);
    if (!st.isFile()) throw problem(`${tokenFile} is not a regular file`);
    if (st.size > MAX_TOKEN_FILE_BYTES) throw problem(`${tokenFile} is ${st.size} bytes; expected a token of at most ${MAX_TOKEN_FILE_BYTES}`);
    text = await readFile(tokenFile, 'utf8');
  } catch (err) {
    if (isConfigError(err)) throw err;
    throw problem(`cannot read ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? describe(err)}`);
  }
  const token = text.trim();
  if (token === '') throw problem(`${tokenFile} is empty; expected the token`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw problem(`${tokenFile} holds characters other than printable ASCII without spaces; expected one token`);
  return token;
}

const MAX_TOKEN_FILE_BYTES = 4096;

/**
 * Makes the relative paths of a config absolute against `baseDir` (the config file's directory):
 * `stateDir`, `api.tokenFile`, a unix `api.listen`, and each process's `cwd` and `pidFile`. A
 * relative `logging.file` resolves against the process's `cwd` (as the spec documents), or
 * `baseDir` without one. Returns a copy; `config` is not changed.
 */
export function resolveConfigPaths(config: DaemonConfig, baseDir: string): DaemonConfig {
  const pm = config.processManager;
  const listen = pm.api.listen.kind === 'unix' ? { kind: 'unix' as const, path: resolve(baseDir, pm.api.listen.path) } : pm.api.listen;
  const api = { ...pm.api, listen, ...(pm.api.tokenFile === undefined ? {} : { tokenFile: resolve(baseDir, pm.api.tokenFile) }) };
  const processManager = { ...pm, api, ...(pm.stateDir === undefined ? {} : { stateDir: resolve(baseDir, pm.stateDir) }) };
  return { processManager, processes: config.processes.map((e) => ({ ...e, spec: resolveSpecPaths(e.spec, baseDir) })) };
}

function resolveSpecPaths(spec: ProcessSpecInput, baseDir: string): ProcessSpecInput {
  const out = { ...spec };
  if (out.cwd !== undefined) out.cwd = resolve(baseDir, out.cwd);
  if (out.pidFile !== undefined) out.pidFile = resolve(baseDir, out.pidFile);
  if (out.logging?.file !== undefined) out.logging = { ...out.logging, file: resolve(out.cwd ?? baseDir, out.logging.file) };
  return out;
}


function withoutNulls(input: unknown): unknown {
  if (input === null || input === undefined) return {};
  if (!isObject(input)) return input;
  const out = { ...input };
  if (out.processManager === null) delete out.processManager;
  if (out.processes === null) delete out.processes;
  return out;
}

/** The raw entries (validated by now) split into id, dependsOn and the spec as written. */
function entriesOf(list: unknown): ProcessEntry[] {
  if (!Array.isArray(list)) return [];
  return list.map((entry: Record<string, unknown>) => {
    const { id, dependsOn, ...spec } = structuredClone(entry);
    const deps = ((dependsOn as unknown[] | undefined) ?? []).map((d): Dependency => {
      if (typeof d === 'string') return { id: d, condition: 'ready' };
      const obj = d as { id: string; condition?: DependencyCondition };
      return { id: obj.id, condition: obj.condition ?? 'ready' };
    });
    return { id: id as string, dependsOn: deps, spec };
  });
}

/**
 * A `__proto__` key anywhere: YAML and JSON.parse make it a plain own key, but schemas skip it
 * unvalidated (zod's records do), and code that copies by assignment would replace an object's
 * prototype with its value. Refused, wherever it is (once: not where `known` has it). Iterative,
 * so any depth is fine.
 */
function protoProblems(input: unknown, prefix: string, known: readonly ConfigProblem[]): ConfigProblem[] {
  interface Node { readonly value: unknown; readonly key?: string | number; readonly parent?: Node }
  const pathOf = (n: Node | undefined): (string | number)[] => (n?.key === undefined ? [] : [...pathOf(n.parent), n.key]);
  const problems: ConfigProblem[] = [];
  const stack: Node[] = [{ value: input }];
  while (stack.length > 0 && problems.length < 10) {
    const node = stack.pop()!;
    if (typeof node.value !== 'object' || node.value === null) continue;
    const list = Array.isArray(node.value);
    for (const [key, value] of Object.entries(node.value)) {
      const child: Node = { value, key: list ? Number(key) : key, parent: node };
      if (key !== '__proto__') stack.push(child);
      else {
        const path = formatPath(pathOf(child), prefix);
        // A strict object has reported it as an unknown key already.
        if (!known.some((p) => p.path === path)) problems.push({ path, message: 'the key "__proto__" is not allowed' });
      }
    }
  }
  return problems;
}

function tokenProblems(pm: unknown): ConfigProblem[] {
  const api = isObject(pm) ? pm.api : undefined;
  if (!isObject(api) || api.token === undefined || api.tokenFile === undefined) return [];
  return [{ path: 'processManager.api.tokenFile', message: 'expected either token or tokenFile, got both' }];
}
