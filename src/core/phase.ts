import type { Hook, Phase } from './types.js';

/** The timestamps a phase is derived from. Each is set once and never cleared, so phases only move forward. */
export interface PhaseStamps {
  readonly syncedAt: number | undefined;
  readonly terminatingAt: number | undefined;
  readonly terminatedAt: number | undefined;
  readonly finishedAt: number | undefined;
}

/** The phase of a process, read from its timestamps. */
export function phaseOf(s: PhaseStamps): Phase {
  if (s.finishedAt !== undefined) return 'Finished';
  if (s.terminatedAt !== undefined) return 'Terminated';
  if (s.terminatingAt !== undefined) return 'Terminating';
  if (s.syncedAt !== undefined) return 'Syncing';
  return 'Starting';
}

/** The hook a worker runs in a phase (DESIGN §3 rule 3: from the phase, not the update type). */
export function hookFor(phase: Phase): Hook | undefined {
  switch (phase) {
    case 'Starting':
    case 'Syncing':
      return 'syncProcess';
    case 'Terminating':
      return 'syncTerminating';
    case 'Terminated':
      return 'syncTerminated';
    case 'Finished':
      return undefined;
  }
}
