import { IllegalStateError } from '../util/index.js';

/**
 * The runtime state of one supervised process (seed 004).
 * - `Stopped`: not running and not about to be started by procmgr on its own.
 * - `Starting`: spawned; the startup probe (if any) has not passed yet.
 * - `Running`: running, and past its startup probe.
 * - `Stopping`: the stop signal was sent; waiting for the group to exit (SIGKILL at the grace).
 * - `Failed`: could not be started (bad spec) or exited and will not be restarted.
 * - `Backoff`: exited; waiting for the restart delay or an open circuit breaker.
 * - `Disabled`: stopped on purpose (an explicit stop) and kept stopped until an explicit start.
 */
export type RuntimeState = 'Stopped' | 'Starting' | 'Running' | 'Stopping' | 'Failed' | 'Backoff' | 'Disabled';

/** The one transition table; anything else is a bug and throws. */
const TRANSITIONS: Readonly<Record<RuntimeState, readonly RuntimeState[]>> = {
  Stopped: ['Starting', 'Running', 'Failed', 'Disabled'],
  Starting: ['Running', 'Stopping', 'Backoff', 'Failed', 'Stopped'],
  Running: ['Stopping', 'Backoff', 'Failed', 'Stopped'],
  Stopping: ['Stopped', 'Backoff', 'Failed', 'Disabled'],
  Failed: ['Starting', 'Backoff', 'Stopped', 'Disabled', 'Running'],
  Backoff: ['Starting', 'Running', 'Stopped', 'Failed', 'Disabled'],
  Disabled: ['Starting', 'Running', 'Stopped', 'Backoff', 'Failed'],
};

/** One recorded transition. */
export interface Transition {
  readonly from: RuntimeState;
  readonly to: RuntimeState;
  readonly at: number;
  readonly reason: string;
}

/** True when the table allows `from → to`. */
export function canTransition(from: RuntimeState, to: RuntimeState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The state of one process and its bounded history. Owned by that process's runtime alone. */
export class StateMachine {
  #state: RuntimeState = 'Stopped';
  #since: number;
  readonly #history: Transition[] = [];
  readonly #limit: number;

  constructor(now: number, historyLimit = 50) {
    this.#since = now;
    this.#limit = historyLimit;
  }

  get state(): RuntimeState {
    return this.#state;
  }

  /** When the current state was entered. */
  get since(): number {
    return this.#since;
  }

  /** Oldest first; at most `historyLimit` entries. */
  get history(): readonly Transition[] {
    return this.#history;
  }

  /** Moves to `to`; staying in the same state is a no-op. Throws `IllegalStateError` on a transition the table forbids. */
  to(to: RuntimeState, now: number, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    if (!canTransition(from, to)) throw new IllegalStateError(`illegal runtime transition ${from} → ${to} (${reason})`, { from, to, reason });
    this.#state = to;
    this.#since = now;
    this.#history.push({ from, to, at: now, reason });
    if (this.#history.length > this.#limit) this.#history.splice(0, this.#history.length - this.#limit);
  }
}
