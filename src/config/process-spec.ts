import { constants } from 'node:os';
import { z } from 'zod';
import { durationMs, sizeBytes } from './units.js';

/**
 * The process spec: what one supervised process should be. The supervisor parses every config it
 * is given with `processSpecSchema`; the daemon's YAML (#4) and the CRD (#5) embed the same schema,
 * so they cannot drift. Unknown keys are errors everywhere (a typo must not pass silently).
 */

const SIGNALS = Object.keys(constants.signals);
const signalName = z
  .string()
  .refine((s) => SIGNALS.includes(s), { message: `expected a signal name such as SIGTERM, SIGINT, SIGQUIT, SIGHUP` })
  .transform((s) => s as NodeJS.Signals);

const port = z.number().int().min(1).max(65535);
const host = z.string().min(1).default('127.0.0.1');

const httpProbe = z.strictObject({
  port,
  host,
  path: z.string().startsWith('/').default('/'),
  scheme: z.enum(['http', 'https']).default('http'),
  headers: z.record(z.string(), z.string()).default({}),
});
const tcpProbe = z.strictObject({ port, host });
const execProbe = z.strictObject({ command: z.string().min(1), args: z.array(z.string()).default([]) });
const grpcProbe = z.strictObject({ port, host, service: z.string().default('') });

const PROBE_KINDS = ['http', 'tcp', 'exec', 'grpc'] as const;

/** One probe: exactly one of `http`, `tcp`, `exec`, `grpc`, plus timing. Defaults are the kubelet's. */
export const probeSchema = z
  .strictObject({
    http: httpProbe.optional(),
    tcp: tcpProbe.optional(),
    exec: execProbe.optional(),
    grpc: grpcProbe.optional(),
    /** Wait this long after the process starts before the first check. */
    initialDelay: durationMs.default(0),
    /** Time between checks. */
    interval: durationMs.default(10_000),
    /** One check fails when it takes longer. */
    timeout: durationMs.default(1_000),
    /** Consecutive failures that flip the probe to failing. */
    failureThreshold: z.number().int().min(1).default(3),
    /** Consecutive successes that flip it back to passing. */
    successThreshold: z.number().int().min(1).default(1),
  })
  .superRefine((p, ctx) => {
    const given = PROBE_KINDS.filter((k) => p[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `expected exactly one of ${PROBE_KINDS.join(', ')}, got ${given.length === 0 ? 'none' : given.join(' and ')}` });
    }
  });

export const restartSchema = z.strictObject({
  /**
   * `never`: an exit ends the process. `on-failure`: restart after a non-zero exit or a signal.
   * `always`: restart after any exit. `unless-stopped`: like always, but an explicit stop is
   * remembered in the state dir, across supervisor restarts, until an explicit start.
   */
  policy: z.enum(['never', 'on-failure', 'always', 'unless-stopped']).default('always'),
  /** First restart delay; each failure in a row multiplies it by `multiplier`, up to `maxDelay`. */
  delay: durationMs.default(1_000),
  multiplier: z.number().min(1).default(2),
  maxDelay: durationMs.default(60_000),
  /** A run this long counts as healthy: the delay starts over and a half-open breaker closes. */
  resetAfter: durationMs.default(60_000),
  /** Circuit breaker: `maxFailures` failed runs within `window` open it for `cooldown`; 0 disables it. */
  breaker: z
    .strictObject({
      maxFailures: z.number().int().min(0).default(5),
      window: durationMs.default(60_000),
      cooldown: durationMs.default(300_000),
    })
    .prefault({}),
});

export const resourcesSchema = z.strictObject({
  /** Sampling interval for RSS, CPU % and open fds (read from /proc). */
  interval: durationMs.default(5_000),
  /** Resident memory of the whole process group. */
  memory: sizeBytes.optional(),
  /** CPU of the whole process group, in percent of one core (200 = two cores busy). */
  cpuPercent: z.number().positive().optional(),
  /** Open file descriptors of the main process. */
  openFiles: z.number().int().positive().optional(),
  /** What a breach does: `log` a warning, `restart` gracefully through the policy, or `kill` (SIGKILL, then the policy). */
  action: z.enum(['log', 'restart', 'kill']).default('log'),
});

export const loggingSchema = z.strictObject({
  /** Also append every line to this file (relative paths resolve against `cwd`). */
  file: z.string().min(1).optional(),
  /** Rotate the file when it would grow past this size. */
  maxSize: sizeBytes.default(10 * 2 ** 20),
  /** Rotated files kept (`file.1` … `file.N`). */
  maxFiles: z.number().int().min(0).default(3),
  /** Recent lines kept in memory for `logs` and the API. */
  bufferLines: z.number().int().min(0).default(1_000),
});

const userOrGroup = z.union([z.string().min(1), z.number().int().nonnegative()]);

export const processSpecSchema = z
  .strictObject({
    /** `managed`: procmgr spawns and controls it. `unmanaged`: attach to `pid`/`pidFile`, monitor and probe only. */
    kind: z.enum(['managed', 'unmanaged']).default('managed'),
    /** Executable (looked up on PATH when it has no slash), or the command line when `shell` is true. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    /** Run `command` through `/bin/sh -c`. Off by default: no shell unless asked for. */
    shell: z.boolean().default(false),
    env: z.record(z.string(), z.string()).default({}),
    /** Start from procmgr's own environment (merged with `env`); false gives the process `env` alone. */
    inheritEnv: z.boolean().default(true),
    cwd: z.string().min(1).optional(),
    /** User name or uid to run as (needs root). */
    user: userOrGroup.optional(),
    /** Group name or gid; defaults to the user's primary group when `user` is set. */
    group: userOrGroup.optional(),
    /** File mode creation mask as an octal string, e.g. "022". */
    umask: z.string().regex(/^0?[0-7]{3}$/, 'expected an octal mask like "022"').optional(),
    stopSignal: signalName.default('SIGTERM'),
    /** Time between the stop signal and SIGKILL to the process group. */
    stopGracePeriod: durationMs.default(10_000),
    restart: restartSchema.prefault({}),
    probes: z
      .strictObject({ startup: probeSchema.optional(), liveness: probeSchema.optional(), readiness: probeSchema.optional() })
      .default({}),
    resources: resourcesSchema.optional(),
    logging: loggingSchema.prefault({}),
    /** unmanaged only: the pid to attach to. */
    pid: z.number().int().min(1).optional(),
    /** unmanaged only: a file holding the pid (re-read on every sync, so a restarted service is found again). */
    pidFile: z.string().min(1).optional(),
  })
  .superRefine((s, ctx) => {
    const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
    if (s.kind === 'managed') {
      if (s.command === undefined) issue('command', 'required for a managed process');
      if (s.pid !== undefined) issue('pid', 'only for kind: unmanaged');
      if (s.pidFile !== undefined) issue('pidFile', 'only for kind: unmanaged');
    } else {
      if ((s.pid === undefined) === (s.pidFile === undefined)) issue('pid', 'an unmanaged process needs exactly one of pid or pidFile');
      if (s.command !== undefined) issue('command', 'not allowed for kind: unmanaged (procmgr never spawns it)');
    }
    if (s.group !== undefined && s.user === undefined) issue('group', 'set user too (group alone is not supported)');
  });

/** What users write (durations and sizes as strings, defaults omitted). */
export type ProcessSpecInput = z.input<typeof processSpecSchema>;
/** A parsed, complete spec: durations in ms, sizes in bytes, every default filled in. */
export type ProcessSpec = z.output<typeof processSpecSchema>;
export type ProbeSpec = z.output<typeof probeSchema>;
export type RestartSpec = z.output<typeof restartSchema>;
export type ResourcesSpec = z.output<typeof resourcesSchema>;
export type LoggingSpec = z.output<typeof loggingSchema>;
export type ProbeKind = (typeof PROBE_KINDS)[number];
