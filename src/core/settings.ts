import type { Clock, Logger, Random } from '../util/index.js';
import type { RetrySettings } from './retry.js';
import type { ManagerEvent, ProcessSyncer } from './types.js';

/** Options with their defaults filled in (see validate.ts). */
export interface Settings<C> extends RetrySettings {
  readonly syncer: ProcessSyncer<C>;
  readonly isTransient: (err: unknown) => boolean;
  readonly defaultGracePeriodMs: number;
  readonly minGracePeriodMs: number;
  readonly gracePeriodFor: (config: C) => number | undefined;
  readonly callTimeoutMs: number;
  readonly terminatingSlackMs: number;
  readonly abortGraceMs: number;
  readonly maxProcesses: number;
  readonly maxFinished: number;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly onEvent: ((event: ManagerEvent) => void) | undefined;
}
