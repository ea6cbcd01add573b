import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { ProcessSpec } from '../config/index.js';
import { SpawnError } from './errors.js';
import { newRunMark, RUN_MARK_VAR } from './run-mark.js';
import { resolveUser } from './users.js';

/** What `prepareSpawn` resolved: everything `spawn` needs, checked before any process exists. */
export interface SpawnPlan {
  readonly file: string;
  /** argv[0] as the user wrote the command (execvp keeps it; `ps` shows it). */
  readonly argv0: string;
  readonly args: readonly string[];
  readonly cwd: string | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  readonly umask: number | undefined;
  /** The run's `PROCMGR_RUN` (already in `env`) for a `killMode: tree` spec; undefined otherwise. */
  readonly runMark: string | undefined;
}

// Read at every spawn: a library user may change process.env between two (a cache keyed on its
// size handed children stale values).
function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}

/** The environment a process gets: procmgr's own merged with `env`, or `env` alone. */
export function processEnv(spec: Pick<ProcessSpec, 'env' | 'inheritEnv'>): Record<string, string> {
  return spec.inheritEnv ? { ...inheritedEnv(), ...spec.env } : { ...spec.env };
}

async function isDirectory(path: string): Promise<boolean | undefined> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return undefined;
  }
}

/**
 * Checks one candidate executable; the error says which and why. Synchronous on purpose: a
 * candidate is a stat (and an access) of a local directory entry, most of them misses on a long
 * PATH, and a thread-pool round trip each made every start and restart wait on a queue for what
 * the kernel answers at once. (execvp, which this mirrors, does the same calls in the child.)
 */
function checkExecutable(path: string): 'ok' | 'missing' | 'notFile' | 'notExecutable' {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) return 'missing';
  if (!st.isFile()) return 'notFile';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return 'notExecutable';
  }
  // root passes access(X_OK) when any x bit is set, and exec fails without one.
  return (st.mode & 0o111) === 0 ? 'notExecutable' : 'ok';
}

/**
 * Finds `command` the way execvp would: a path with a slash as is (against cwd), else each PATH
 * entry in order. Walked at every spawn, never cached: an executable installed earlier on PATH,
 * or a changed PATH, counts from the next start, as it would in a shell.
 */
function findExecutable(command: string, cwd: string | undefined, pathVar: string | undefined): string {
  if (command.includes('/')) {
    const file = isAbsolute(command) ? command : resolve(cwd ?? process.cwd(), command);
    const verdict = checkExecutable(file);
    if (verdict === 'ok') return file;
    if (verdict === 'missing') throw new SpawnError('EXECUTABLE_NOT_FOUND', `command: ${file} does not exist`, { details: { command } });
    throw new SpawnError('NOT_EXECUTABLE', `command: ${file} is not ${verdict === 'notFile' ? 'a regular file' : 'executable (no x permission)'}`, { details: { command } });
  }
  let notExecutable: string | undefined;
  for (const dir of (pathVar ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (dir === '') continue;
    const file = join(resolve(cwd ?? process.cwd(), dir), command);
    const verdict = checkExecutable(file);
    if (verdict === 'ok') return file;
    if (verdict === 'notExecutable') notExecutable ??= file;
  }
  if (notExecutable !== undefined) throw new SpawnError('NOT_EXECUTABLE', `command: ${notExecutable} is not executable (no x permission)`, { details: { command } });
  throw new SpawnError('EXECUTABLE_NOT_FOUND', `command: "${command}" was not found on PATH (${pathVar ?? '<unset>'})`, { details: { command } });
}

/** Validates and resolves a managed spec. Throws `SpawnError` naming the field at fault. */
export async function prepareSpawn(spec: ProcessSpec): Promise<SpawnPlan> {
  const command = spec.command ?? '';
  const env = processEnv(spec);
  // Added to an inherited value rather than replacing it: a procmgr that runs inside an outer
  // procmgr's `tree` run is part of that run, and so are its children.
  const runMark = spec.killMode === 'tree' ? newRunMark() : undefined;
  if (runMark !== undefined) env[RUN_MARK_VAR] = env[RUN_MARK_VAR] ? `${env[RUN_MARK_VAR]} ${runMark}` : runMark;
  if (spec.cwd !== undefined) {
    const dir = await isDirectory(spec.cwd);
    if (dir !== true) throw new SpawnError('CWD_MISSING', `cwd: ${spec.cwd} ${dir === false ? 'is not a directory' : 'does not exist'}`, { details: { cwd: spec.cwd } });
  }
  const ids = spec.user === undefined ? undefined : await resolveUser(spec.user, spec.group);
  const umask = spec.umask === undefined ? undefined : parseInt(spec.umask, 8);
  const base = { cwd: spec.cwd, env, uid: ids?.uid, gid: ids?.gid, umask, runMark };
  // With a shell, args become $1… of the command line ("sh" is $0), so they need no quoting.
  if (spec.shell) return { ...base, file: '/bin/sh', argv0: 'sh', args: ['-c', command, 'sh', ...spec.args] };
  return { ...base, file: findExecutable(command, spec.cwd, env.PATH), argv0: command, args: spec.args };
}

function spawnFailure(err: NodeJS.ErrnoException, plan: SpawnPlan): SpawnError {
  switch (err.code) {
    case 'ENOENT':
      return new SpawnError('EXECUTABLE_NOT_FOUND', `command: ${plan.file} could not be executed: ${err.message}`, { cause: err });
    case 'EACCES':
      return new SpawnError('PERMISSION_DENIED', `command: permission denied executing ${plan.file}${plan.uid === undefined ? '' : ` as uid ${plan.uid}`} (check the file and cwd permissions)`, { cause: err });
    case 'EPERM':
      return new SpawnError('PERMISSION_DENIED', `user: not permitted to run as uid ${String(plan.uid)} gid ${String(plan.gid)} (procmgr needs root for user/group)`, { cause: err });
    default:
      return new SpawnError('SPAWN_ERROR', `spawn ${plan.file}: ${err.message}`, { cause: err });
  }
}

/** Descriptors the child writes its stdout and stderr to, instead of pipes to procmgr. */
export interface OutputFds {
  readonly stdout: number;
  readonly stderr: number;
}

/**
 * Starts the plan as the leader of a new process group (no shell unless the plan is `/bin/sh -c`),
 * stdin from /dev/null, stdout and stderr piped (or into `output`). Resolves once the exec succeeded.
 */
export function spawnPlan(plan: SpawnPlan, output?: OutputFds): Promise<ChildProcess> {
  // process.umask(mask) is process-wide, but spawn forks synchronously, so only this child sees it.
  const previous = plan.umask === undefined ? undefined : process.umask(plan.umask);
  let child: ChildProcess;
  try {
    child = spawn(plan.file, plan.args, {
      argv0: plan.argv0,
      cwd: plan.cwd,
      env: plan.env,
      detached: true,
      stdio: output ? ['ignore', output.stdout, output.stderr] : ['ignore', 'pipe', 'pipe'],
      ...(plan.uid === undefined ? {} : { uid: plan.uid }),
      ...(plan.gid === undefined ? {} : { gid: plan.gid }),
    });
  } catch (err) {
    return Promise.reject(spawnFailure(err as NodeJS.ErrnoException, plan));
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
  return new Promise((resolvePromise, reject) => {
    const onSpawn = (): void => {
      child.off('error', onError);
      resolvePromise(child);
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      child.off('spawn', onSpawn);
      reject(spawnFailure(err, plan));
    };
    child.once('spawn', onSpawn);
    child.once('error', onError);
  });
}
