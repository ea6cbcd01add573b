import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync } from 'node:fs';
import type { Clock, Logger } from '../util/index.js';
import { describe } from '../util/index.js';
import { createSpool, removeSpool, SpoolReader, type LogCapture, type StreamName } from './logs/index.js';
import { spawnPlan, type OutputFds, type SpawnPlan } from './spawn.js';
import type { StateStore } from './state-store.js';

/*
 * Where a run's output goes. Without a state dir: pipes to procmgr (the runtime attaches them).
 * With one: a spool file per stream in the state dir (see `SpoolReader`), so the output outlives
 * procmgr and a reattached process is still captured.
 */

const STREAMS: readonly StreamName[] = ['stdout', 'stderr'];

/**
 * Fresh spools for a new run of `id`; the caller passes them to the child and then closes them
 * (`closeFds`). When they cannot be created (the state dir is not usable), undefined: the run's
 * output is piped as without a state dir, and the failure is logged.
 */
function createSpools(store: StateStore, id: string, logger: Logger): OutputFds | undefined {
  let stdout: number | undefined;
  try {
    mkdirSync(store.dir, { recursive: true, mode: 0o700 });
    stdout = createSpool(store.spoolPath(id, 'stdout'));
    return { stdout, stderr: createSpool(store.spoolPath(id, 'stderr')) };
  } catch (err) {
    if (stdout !== undefined) closeSync(stdout);
    logger.error({ process: id, err: describe(err) }, 'cannot create the output spools in the state dir: output is piped, and lost if procmgr dies');
    return undefined;
  }
}

function closeFds(fds: OutputFds): void {
  closeSync(fds.stdout);
  closeSync(fds.stderr);
}

/** Spawns a run of `id`: its output into fresh spools with a state dir (`spooled`), else piped. */
export async function spawnRun(plan: SpawnPlan, store: StateStore | undefined, id: string, logger: Logger): Promise<{ child: ChildProcess; spooled: boolean }> {
  const spools = store && createSpools(store, id, logger);
  try {
    return { child: await spawnPlan(plan, spools), spooled: spools !== undefined };
  } finally {
    if (spools) closeFds(spools);
  }
}

/**
 * Follows the spools of a run into `logs` until the run has `ended` and they are read to the end. `resume`: the run was started by an earlier procmgr (see `SpoolReader`). Returns false
 * when the run has no spools (an older procmgr piped its output: what it writes now is lost).
 */
export function followSpools(
  store: StateStore,
  id: string,
  run: { readonly ended: Promise<unknown>; readonly logs: LogCapture; readonly resume: boolean },
  deps: { readonly clock: Clock; readonly logger: Logger },
): boolean {
  let found = false;
  for (const stream of STREAMS) {
    let reader: SpoolReader;
    try {
      reader = new SpoolReader({ path: store.spoolPath(id, stream), clock: deps.clock, resume: run.resume });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') deps.logger.warn({ process: id, stream, err: describe(err) }, 'cannot read the output spool: this output is not captured');
      continue;
    }
    found = true;
    void run.logs.attachSpool(reader, stream);
    void run.ended.then(() => reader.finish());
  }
  if (!found && run.resume) deps.logger.warn({ process: id }, 'no output spool: its output is not captured (it was piped to an older procmgr, or the run ended before it was created)');
  return found;
}

/** Removes the spools of `id` (when the id is gone for good). Never throws: a failure is logged. */
export function removeSpools(store: StateStore, id: string, logger: Logger): void {
  for (const stream of STREAMS) {
    try {
      removeSpool(store.spoolPath(id, stream));
    } catch (err) {
      logger.warn({ process: id, stream, err: describe(err) }, 'could not remove an output spool');
    }
  }
}
