import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import type { ProcessManagerOptions } from '../core/index.js';
import { PROCESS_ID_EXPECTED, PROCESS_ID_PATTERN } from '../util/index.js';
import { processSpecSchema, type ProcessSpecInput } from './process-spec.js';
import { durationMs, sizeBytes } from './units.js';

/**
 * The daemon's config file (YAML or JSON): procmgr's own settings under `processManager`, and
 * the `processes` it should run. Each process is the process spec plus `id` and `dependsOn`, so
 * the file, the API and the CRD (#5) validate processes with one schema. Unknown keys are errors
 * at every level. Parsed by `parseDaemonConfig`/`loadConfigFile` (load.ts), which add the checks
 * that span entries (duplicate ids, dependencies).
 */

/** A process id: util's id rule, as a pattern so the CRD's schema carries it too. */
export const processIdSchema = z
  .string()
  .regex(PROCESS_ID_PATTERN, `expected ${PROCESS_ID_EXPECTED}`)
  .describe('Unique name of the process (at most 253 printable characters, no whitespace).');

/** Where the API listens: a TCP host and port, or a unix socket. */
export type ListenAddress = { readonly kind: 'tcp'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly path: string };

const LISTEN_FORMS = 'expected "host:port", "[ipv6]:port" or "unix:/path/to.sock"';
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Parses a listen address; a string is the reason it is not one. */
export function parseListen(text: string): ListenAddress | string {
  const got = `got ${JSON.stringify(text)}`;
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    return path === '' ? `expected a socket path after "unix:", ${got}` : { kind: 'unix', path };
  }
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return text.split(':').length > 2 && !text.startsWith('[') ? `expected "[ipv6]:port" (an IPv6 address needs brackets), ${got}` : `${LISTEN_FORMS}, ${got}`;
  const port = Number(m[3]);
  if (port > 65535) return `expected a port 0-65535, ${got}`;
  if (m[1] !== undefined) return isIPv6(m[1]) ? { kind: 'tcp', host: m[1], port } : `expected an IPv6 address inside the brackets, ${got}`;
  const host = m[2] ?? '';
  return isIPv4(host) || HOSTNAME.test(host) ? { kind: 'tcp', host, port } : `expected a host name or IPv4 address before the port, ${got}`;
}

const listenSchema = z.string().transform((text, ctx): ListenAddress => {
  const parsed = parseListen(text.trim());
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

/** `value` within [min, max] (ms or bytes), else an issue naming both ends in `unit`. */
function within(min: number, max: number, show: (n: number) => string) {
  return (value: number, ctx: z.RefinementCtx): void => {
    if (value < min || value > max) ctx.addIssue({ code: 'custom', message: `expected ${show(min)} to ${show(max)}, got ${show(value)}` });
  };
}

const apiSchema = z.strictObject({
  listen: listenSchema.prefault('127.0.0.1:7070').describe('`host:port`, `[ipv6]:port` or `unix:/path/to.sock` (a relative socket path resolves against the config file\'s directory). Port 0 picks a free port.'),
  token: z.string().min(1).max(4096).regex(/^[\x21-\x7e]+$/, 'expected printable ASCII without spaces').optional().describe('Bearer token that a TCP listener requires for process data and changes (`Authorization: Bearer <token>`). Without `token` or `tokenFile`, `procmgr run` generates one at start and stores it for the CLI of the same user (see docs/api.md#security); a unix socket needs none.'),
  tokenFile: z.string().min(1).optional().describe('File holding the token (surrounding whitespace trimmed), so the secret stays out of this file; relative to the config file\'s directory. Re-read on SIGHUP and on every reload: a rotated token takes effect without a restart. Not together with `token`.'),
  allowedHosts: z
    .array(z.string().regex(HOSTNAME, 'expected a host name (no port, no scheme)'))
    .max(100)
    .default([])
    .describe('Host names clients may use to reach the API besides `localhost` and its IP addresses (a reverse proxy\'s or a Service\'s name). Any other `Host` header is refused, which stops DNS-rebinding pages.'),
  metricsAuth: z.boolean().default(false).describe('`/metrics` needs the token too (by default it is open for scrapers, like `/healthz` and `/readyz`).'),
  bodyLimit: sizeBytes.prefault('1Mi').superRefine(within(1, 64 * 2 ** 20, (n) => `${n} bytes`)).describe('Largest request body accepted (at most 64Mi).'),
  requestTimeout: durationMs.prefault('30s').superRefine(within(1, 3_600_000, (n) => `${n} ms`)).describe('A request\'s headers and body must arrive within this (at most 1h); a slower one is answered 408 and its connection closed. Log follow streams are not limited by it.'),
  maxConnections: z.number().int().min(1).max(65_535).default(1024).describe('Most API connections open at once; more are closed as they arrive.'),
});

const jitter = z.number().min(0).max(2);

const engineSchema = z
  .strictObject({
    resyncInterval: durationMs.prefault('30s').describe('How often a healthy process is re-checked against its spec.'),
    resyncJitter: jitter.default(0.5).describe('Spread of the resync period (±factor/2), so processes do not resync in lockstep.'),
    backoff: z
      .strictObject({
        base: durationMs.prefault('1s').describe('First retry delay after a failed sync; doubles per failure in a row.'),
        max: durationMs.prefault('1m').describe('Cap of the retry delay.'),
        jitter: jitter.default(0.5).describe('Randomisation of the retry delay.'),
      })
      .prefault({})
      .describe('Retries of failed syncs (not process restarts: those follow each process\'s `restart`).'),
    transientRetry: durationMs.prefault('1s').describe('Retry delay after a transient failure (an aborted or timed-out call).'),
    defaultGracePeriod: durationMs.prefault('30s').describe('Stop grace period when a process gives none.'),
    minGracePeriod: durationMs.prefault('1s').describe('Floor of every stop grace period.'),
    callTimeout: durationMs.prefault('2m').describe('Deadline of one sync of a process (starting it, probing for start-up).'),
    terminatingSlack: durationMs.prefault('10s').describe('How much longer than its grace period stopping a process may take before it is retried.'),
    abortGrace: durationMs.prefault('5s').describe('How long an aborted call may take to settle before it is abandoned.'),
    maxProcesses: z.number().int().min(1).default(1_000_000).describe('Most processes tracked at once.'),
  })
  .superRefine((e, ctx) => {
    if (e.backoff.max < e.backoff.base) ctx.addIssue({ code: 'custom', path: ['backoff', 'max'], message: `expected at least backoff.base (${e.backoff.base} ms), got ${e.backoff.max} ms` });
    if (e.callTimeout === 0) ctx.addIssue({ code: 'custom', path: ['callTimeout'], message: 'expected a duration > 0, got 0' });
  })
  // The engine's own option names, so the section spreads straight into `new ProcessManager`.
  .transform((e) => ({
    resyncIntervalMs: e.resyncInterval,
    resyncJitter: e.resyncJitter,
    backoff: { baseMs: e.backoff.base, maxMs: e.backoff.max, jitter: e.backoff.jitter },
    transientRetryMs: e.transientRetry,
    defaultGracePeriodMs: e.defaultGracePeriod,
    minGracePeriodMs: e.minGracePeriod,
    callTimeoutMs: e.callTimeout,
    terminatingSlackMs: e.terminatingSlack,
    abortGraceMs: e.abortGrace,
    maxProcesses: e.maxProcesses,
  }) satisfies Omit<ProcessManagerOptions<unknown>, 'syncer'>);

/** The `processManager` section: procmgr's own settings, every field defaulted. */
export const processManagerSchema = z.strictObject({
  api: apiSchema.prefault({}).describe('The HTTP API (status, logs, apply, restart).'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('procmgr\'s own log level (process output is captured per process).'),
  stateDir: z.string().min(1).optional().describe('Where procmgr records its processes, so a restarted procmgr reattaches to them instead of starting them again; relative to the config file\'s directory. Without it, nothing survives a procmgr restart.'),
  shutdownTimeout: durationMs.prefault('30s').describe('On SIGTERM/SIGINT, processes still running after this are killed.'),
  reload: z
    .strictObject({
      watch: z.boolean().default(true).describe('Re-read this file when it changes (also a rename-replace or a ConfigMap update); a bad file is logged and the running set is kept.'),
      debounce: durationMs.prefault('200ms').describe('Quiet time after the last change before the file is read.'),
    })
    .prefault({})
    .describe('Hot reload of this file.'),
  engine: engineSchema.prefault({}).describe('Tuning of the engine that drives the processes; the defaults suit most uses.'),
});

/** When a dependency lets its dependents start (compose's conditions). */
export const DEPENDENCY_CONDITIONS = ['started', 'ready', 'completed'] as const;
export type DependencyCondition = (typeof DEPENDENCY_CONDITIONS)[number];

const dependencySchema = z.union([
  processIdSchema,
  z.strictObject({
    id: processIdSchema,
    condition: z
      .enum(DEPENDENCY_CONDITIONS)
      .default('ready')
      .describe('`started`: it runs; `ready`: it runs and its readiness probe (if any) passes; `completed`: it exited 0 and will not be restarted (a job, such as a migration).'),
  }),
]);

const entryFields = {
  id: processIdSchema,
  dependsOn: z
    .array(dependencySchema)
    .default([])
    .describe('Processes to start first: an id (wait until it is ready) or `{ id, condition: started | ready | completed }`. Only the first start waits; later restarts of a dependency do not stop this one.'),
};

/** The fields a config entry adds to the process spec (documented on their own). */
export const processEntryFieldsSchema = z.strictObject(entryFields);

/** One entry of `processes`: `id`, `dependsOn` and every field of the process spec. */
export const processEntrySchema = processSpecSchema.safeExtend(entryFields);

/** A `processes` list: the file's section, the API's PUT body, the CRD's spec (#5). */
export const processListSchema = z.array(processEntrySchema).describe('The processes procmgr keeps running; may be empty.');

/** The whole config file. */
export const daemonConfigSchema = z.strictObject({
  processManager: processManagerSchema.prefault({}).describe('procmgr\'s own settings; every field has a default.'),
  processes: processListSchema.default([]),
});

/** What users write in the file. */
export type DaemonConfigInput = z.input<typeof daemonConfigSchema>;
/** procmgr's own settings, parsed: durations in ms, sizes in bytes, `engine` in `ProcessManagerOptions` names. */
export type ProcessManagerSettings = z.output<typeof processManagerSchema>;
export type LogLevel = ProcessManagerSettings['logLevel'];

/**
 * One process of the config. `spec` is the entry as the user wrote it minus `id` and `dependsOn`
 * (relative paths made absolute by `loadConfigFile`): the supervisor parses and hashes the raw
 * spec itself, so a spec that did not change hashes the same across reloads.
 */
export interface ProcessEntry {
  readonly id: string;
  readonly dependsOn: readonly Dependency[];
  readonly spec: ProcessSpecInput;
}

/** One `dependsOn` item, normalized (a bare id means condition `ready`). */
export interface Dependency {
  readonly id: string;
  readonly condition: DependencyCondition;
}

/** A validated config file. */
export interface DaemonConfig {
  readonly processManager: ProcessManagerSettings;
  readonly processes: ProcessEntry[];
}

const JSON_SCHEMA_ID = 'urn:procmgr:schema:config';

/** JSON Schema of the config file (what `schema/procmgr.schema.json` holds), for editors and tooling. */
export function daemonConfigJsonSchema(): Record<string, unknown> {
  const json = z.toJSONSchema(daemonConfigSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
  const { $schema, ...rest } = json;
  return { $schema, $id: JSON_SCHEMA_ID, title: 'procmgr config file', ...rest };
}

/**
 * JSON Schema of a `processes` list. `openapi-3.0` gives the dialect of a Kubernetes CRD's
 * `openAPIV3Schema` (#5), so the CRD validates with the same schema as the file.
 */
export function processListJsonSchema(target: 'draft-2020-12' | 'openapi-3.0' = 'draft-2020-12'): Record<string, unknown> {
  return z.toJSONSchema(processListSchema, { io: 'input', unrepresentable: 'any', target });
}
