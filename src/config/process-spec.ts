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

const port = z.number().int().min(1).max(65535).describe('TCP port.');
const host = z.string().min(1).default('127.0.0.1').describe('Host or IP to connect to.');

// What may go into a request: a name of RFC 9110 token characters, a value and a path without
// CR, LF or other controls (either would end a line of the request early and smuggle in another).
// The HTTP check tests what it sends against the same expressions.
/** An HTTP header name: RFC 9110 token characters only. */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** An HTTP header value (Node's rule): no CR, LF, NUL or other controls but tab, nothing above U+00FF. */
export const HTTP_FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** An HTTP request target (Node's rule): no spaces or controls. The spec's `path` also starts with "/". */
export const HTTP_TARGET = /^[\x21-\x7e\x80-\xff]+$/;
const headerName = z.string().regex(HTTP_TOKEN);
const headerValue = z.string().regex(HTTP_FIELD_VALUE, 'expected a header value without CR, LF or other control characters');
const httpProbe = z.strictObject({
  port,
  host,
  path: z
    .string()
    .regex(/^\/[\x21-\x7e\x80-\xff]*$/, 'expected a request path starting with "/", without spaces or control characters')
    .default('/')
    .describe('Request path; 200–399 passes.'),
  scheme: z.enum(['http', 'https']).default('http').describe('`https` does not verify the certificate (as the kubelet).'),
  headers: z
    .record(headerName, headerValue, { error: (issue) => (issue.code === 'invalid_key' ? 'expected a header name (letters, digits and !#$%&\'*+-.^_`|~)' : undefined) })
    .default({})
    .describe('Extra request headers.'),
});
const tcpProbe = z.strictObject({ port, host });
const execProbe = z.strictObject({
  command: z.string().min(1).describe('Executable run with the process\'s env and cwd, no shell; exit 0 passes.'),
  args: z.array(z.string()).default([]).describe('Its arguments.'),
});
const grpcProbe = z.strictObject({ port, host, service: z.string().default('').describe('grpc.health.v1 service name; "" is the whole server.') });

const PROBE_KINDS = ['http', 'tcp', 'exec', 'grpc'] as const;

/** One probe: exactly one of `http`, `tcp`, `exec`, `grpc`, plus timing. Defaults are the kubelet's. */
export const probeSchema = z
  .strictObject({
    http: httpProbe.optional().describe('HTTP GET check.'),
    tcp: tcpProbe.optional().describe('TCP connect check.'),
    exec: execProbe.optional().describe('Command check.'),
    grpc: grpcProbe.optional().describe('grpc.health.v1 Check; SERVING passes.'),
    initialDelay: durationMs.prefault('0s').describe('Wait this long after the process starts before the first check.'),
    interval: durationMs.prefault('10s').describe('Time between checks.'),
    startInterval: durationMs
      .optional()
      .describe(
        'Time between checks until the first one succeeds (the process is still coming up), like Docker\'s `start_interval`; then `interval`. Default: `interval`. Failures count as usual: on a liveness or startup probe, `failureThreshold` × `startInterval` is then all the time the process has to answer.',
      ),
    timeout: durationMs.prefault('1s').describe('One check fails when it takes longer.'),
    failureThreshold: z.number().int().min(1).default(3).describe('Consecutive failures that flip the probe to failing.'),
    successThreshold: z.number().int().min(1).default(1).describe('Consecutive successes that flip it back to passing.'),
  })
  .superRefine((p, ctx) => {
    const given = PROBE_KINDS.filter((k) => p[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `expected exactly one of ${PROBE_KINDS.join(', ')}, got ${given.length === 0 ? 'none' : given.join(' and ')}` });
    }
  });

export const restartSchema = z.strictObject({
  policy: z.enum(['never', 'on-failure', 'always', 'unless-stopped']).default('always').describe('`never`: an exit ends the process. `on-failure`: restart after a non-zero exit or a signal. `always`: restart after any exit. `unless-stopped`: like always, but an explicit stop is remembered in the state dir, across supervisor restarts, until an explicit start.'),
  delay: durationMs.prefault('1s').describe('First restart delay; each failure in a row multiplies it by `multiplier`, up to `maxDelay`.'),
  multiplier: z.number().min(1).default(2).describe('Growth of the delay per failure in a row.'),
  maxDelay: durationMs.prefault('1m').describe('Cap of the restart delay.'),
  resetAfter: durationMs.prefault('1m').describe('A run this long counts as healthy: the delay starts over and a half-open breaker closes.'),
  breaker: z
    .strictObject({
      maxFailures: z.number().int().min(0).default(5).describe('Failed runs that open the breaker; 0 disables it.'),
      window: durationMs.prefault('1m').describe('Window in which the failures are counted.'),
      cooldown: durationMs.prefault('5m').describe('How long an open breaker waits before one trial run.'),
    })
    .prefault({})
    .describe('Circuit breaker: `maxFailures` failed runs within `window` open it for `cooldown`, then one trial run (half-open); 0 disables it.'),
});

export const resourcesSchema = z.strictObject({
  interval: durationMs.prefault('5s').describe('Sampling interval for RSS, CPU % and open fds (read from /proc).'),
  memory: sizeBytes.optional().describe('Resident memory of the whole process group.'),
  cpuPercent: z.number().positive().optional().describe('CPU of the whole process group, in percent of one core (200 = two cores busy).'),
  openFiles: z.number().int().positive().optional().describe('Open file descriptors of the main process.'),
  action: z.enum(['log', 'restart', 'kill']).default('log').describe('What a breach does: `log` a warning, `restart` gracefully through the policy, or `kill` (SIGKILL, then the policy).'),
});

export const loggingSchema = z.strictObject({
  file: z.string().min(1).optional().describe('Also append every line to this file (relative paths resolve against `cwd`). While the file is more than about 1 MiB behind (a slow disk), procmgr stops reading the output, so the process waits on its writes rather than a line being lost.'),
  maxSize: sizeBytes.prefault('10Mi').describe('Rotate the file when it would grow past this size.'),
  maxFiles: z.number().int().min(0).default(3).describe('Rotated files kept (`file.1` … `file.N`).'),
  bufferLines: z.number().int().min(0).max(1_000_000).default(1_000).describe('Recent lines kept in memory for `logs` and the API (at most 1 000 000).'),
  bufferSize: sizeBytes
    .prefault('1Mi')
    .superRefine((n, ctx) => {
      if (n > 2 ** 30) ctx.addIssue({ code: 'custom', message: `expected at most 1Gi (${2 ** 30} bytes), got ${n} bytes` });
    })
    .describe('Most bytes of recent lines kept in memory (at most 1Gi): the oldest lines go first when either this or `bufferLines` is reached.'),
  forward: z
    .boolean()
    .default(true)
    .describe(
      "Copy every line into procmgr's own log, as an `info` record with `process` and `stream`. What one process may copy is bounded: about 1 MiB/s after a burst of 4 MiB (a line counts its length plus 256 bytes; some 3 000 lines of 100 bytes a second), and nothing while that log's destination is behind (a slow stdout, 4 MiB waiting). Lines past that are not copied rather than held in memory: they are counted (`logs.notForwarded` in the status) and reported in one warning per process at most every 10 s; the buffer, the file and `logs -f` still get every line. `false` keeps a chatty process out of procmgr's log, and costs less.",
    ),
});

const userOrGroup = z.union([z.string().min(1), z.number().int().nonnegative()]);

export const processSpecSchema = z
  .strictObject({
    kind: z.enum(['managed', 'unmanaged']).default('managed').describe('`managed`: procmgr spawns and controls it. `unmanaged`: attach to `pid`/`pidFile`, monitor and probe only.'),
    command: z.string().min(1).optional().describe('Executable (looked up on PATH when it has no slash), or the command line when `shell` is true.'),
    args: z.array(z.string()).default([]).describe('Arguments, passed as they are (no shell word splitting).'),
    shell: z.boolean().default(false).describe('Run `command` through `/bin/sh -c`. Off by default: no shell unless asked for.'),
    env: z.record(z.string(), z.string()).default({}).describe('Environment variables for the process.'),
    inheritEnv: z.boolean().default(true).describe("Start from procmgr's own environment (merged with `env`); false gives the process `env` alone."),
    cwd: z.string().min(1).optional().describe('Working directory; must exist.'),
    user: userOrGroup.optional().describe('User name or uid to run as (needs root).'),
    group: userOrGroup.optional().describe("Group name or gid; defaults to the user's primary group when `user` is set."),
    umask: z.string().regex(/^0?[0-7]{3}$/, 'expected an octal mask like "022"').optional().describe("File mode creation mask as an octal string, e.g. \"022\"."),
    stopSignal: signalName.prefault('SIGTERM').describe('Signal sent to the process group to stop it.'),
    stopGracePeriod: durationMs.prefault('10s').describe('Time between the stop signal and SIGKILL to the process group.'),
    killMode: z
      .enum(['group', 'tree'])
      .default('group')
      .describe(
        '`group`: a stop signals the process group procmgr created, so every descendant that stayed in it, and when the process exits by itself what is left of the group is killed. `tree`: also descendants that left the group (setsid, setpgid, a double fork), on a stop and when the process exits by itself: each run gets `PROCMGR_RUN=<random id>` in its environment, which its descendants inherit, and procmgr finds them by scanning /proc/<pid>/environ (plus the process tree read just before a stop signal). A descendant that clears or overwrites its environment, or whose environment procmgr may not read (another user\'s, unless procmgr is root), escapes.',
      ),
    restart: restartSchema.prefault({}).describe('Restart policy, delays and circuit breaker.'),
    probes: z
      .strictObject({ startup: probeSchema.optional(), liveness: probeSchema.optional(), readiness: probeSchema.optional() })
      .default({})
      .describe('startup gates the other two; liveness failure restarts; readiness only changes status.'),
    resources: resourcesSchema.optional().describe('Sampling from /proc and limits.'),
    logging: loggingSchema.prefault({}).describe("Output capture: file with rotation, in-memory buffer, copy into procmgr's log. Lines longer than 16 KiB are cut into pieces of at most 16 KiB (counted as `logs.cuts` in the status)."),
    pid: z.number().int().min(1).optional().describe('unmanaged only: the pid to attach to.'),
    pidFile: z.string().min(1).optional().describe('unmanaged only: a file holding the pid (re-read on every sync, so a restarted service is found again).'),
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
