import type { Clock, Logger } from '../util/index.js';
import type { SupervisorEvent } from './events.js';
import { adoptProcess } from './handle.js';
import { isLiveStat, readStat } from './proc.js';
import { removeSpools } from './output.js';
import { stopProcess } from './signals.js';
import type { StateStore } from './state-store.js';

/** Grace for a recorded process whose record predates `stopGracePeriodMs` (the spec's default). */
const DEFAULT_GRACE_MS = 10_000;

/**
 * Processes a previous supervisor started for ids that are not wanted any more (removed from the
 * config while procmgr was down) would otherwise run on unsupervised forever: stop each one that
 * is still ours (pid and start time match; never an unmanaged one) and drop its record. Returns
 * the ids whose records were removed.
 */
export async function reconcileStateDir(
  store: StateStore,
  desired: ReadonlySet<string>,
  deps: { readonly clock: Clock; readonly logger: Logger; readonly emit: (e: SupervisorEvent) => void; readonly adoptPollMs: number },
  signal?: AbortSignal,
): Promise<string[]> {
  const cleaned: string[] = [];
  const stale = (await store.list()).filter((rec) => !desired.has(rec.id));
  await Promise.all(
    stale.map(async (rec) => {
      const id = rec.id;
      if (rec.pid !== undefined && rec.startTimeTicks !== undefined && rec.kind !== 'unmanaged') {
        const stat = readStat(rec.pid);
        if (isLiveStat(stat, rec.startTimeTicks)) {
          deps.logger.warn({ process: id, pid: rec.pid }, 'no longer in the config but still running from before a restart: stopping it');
          deps.emit({ type: 'reattachRefused', id, pid: rec.pid, reason: 'removed' });
          const h = adoptProcess(
            { pid: rec.pid, startTimeTicks: rec.startTimeTicks, group: stat.pgrp === rec.pid, startedAt: deps.clock.now(), pollMs: deps.adoptPollMs, runMark: rec.runMark },
            deps.clock,
          );
          try {
            await stopProcess(h, {
              signal: rec.stopSignal ?? 'SIGTERM',
              tree: rec.killMode === 'tree',
              graceMs: rec.stopGracePeriodMs ?? DEFAULT_GRACE_MS,
              clock: deps.clock,
              ...(signal ? { abort: signal } : {}),
            });
          } finally {
            h.dispose();
          }
        }
      }
      try {
        await store.remove(id);
        removeSpools(store, id, deps.logger);
        cleaned.push(id);
      } catch (err) {
        // The process is gone; the next start tries the record again.
        deps.logger.error({ process: id, err }, 'could not remove the state file of a process no longer in the config');
      }
    }),
  );
  return cleaned.sort();
}
