import type { ProcessSpecInput } from '../config/index.js';
import { ProcessManager, type ProcessManagerOptions } from '../core/index.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

/** Options of `createSupervisedManager`: the supervisor's and the engine's (minus the syncer). */
export interface SupervisedManagerOptions {
  readonly supervisor?: SupervisorOptions;
  readonly manager?: Omit<ProcessManagerOptions<ProcessSpecInput>, 'syncer'>;
}

/**
 * The engine driving real processes, wired both ways: the supervisor is the engine's syncer, and
 * OS events (exits, failed probes) requeue the id in the engine. The spec's `stopGracePeriod` is
 * the engine's grace period. Clock and logger are shared unless given separately. An id the
 * engine removes is forgotten by the supervisor (`forget`).
 */
export function createSupervisedManager(options: SupervisedManagerOptions = {}): {
  manager: ProcessManager<ProcessSpecInput>;
  supervisor: Supervisor;
} {
  const shared = {
    ...(options.manager?.clock ? { clock: options.manager.clock } : {}),
    ...(options.manager?.logger ? { logger: options.manager.logger } : {}),
  };
  const supervisor = new Supervisor({ ...shared, ...options.supervisor });
  // A removed id's runtime (log buffer, history) goes with it through the syncer's `forget`, or
  // a long-lived daemon whose set changes would keep every one.
  const manager = new ProcessManager<ProcessSpecInput>({
    gracePeriodFor: (c) => supervisor.gracePeriodFor(c),
    ...options.manager,
    syncer: supervisor,
  });
  supervisor.setRequeue((id) => {
    const st = manager.getStatus(id);
    if (st === undefined || st.phase === 'Finished' || manager.state !== 'running') return;
    manager.updateProcess({ id, type: 'sync' });
  });
  return { manager, supervisor };
}
