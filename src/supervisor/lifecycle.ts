import { IllegalStateError } from '../util/index.js';

/**
 * Where one supervised process is in procmgr's own handling of it (the `RuntimeState` shown to
 * users is finer: Starting/Running, Backoff/Stopped/Failed, Disabled). Owned by its runtime.
 * - `recovering`: created; what a previous supervisor left (state file, live process) is not settled yet.
 * - `idle`: no run is up; the next sync starts one when the policy, the delay and the breaker allow.
 * - `running`: a run is up (spawned, reattached or attached) and watched; its own exit goes to the policy.
 * - `stopping`: procmgr is ending the current run; its exit belongs to that stop, not to the policy.
 * - `done`: the policy runs it no more (the engine is told `terminal`) until an explicit start or another kind.
 */
export type Lifecycle = 'recovering' | 'idle' | 'running' | 'stopping' | 'done';

/** The one transition table; anything else is a bug and throws. */
const MOVES: Readonly<Record<Lifecycle, readonly Lifecycle[]>> = {
  recovering: ['idle', 'running', 'done'],
  idle: ['running', 'done'],
  running: ['stopping', 'idle', 'done'],
  stopping: ['idle'],
  done: ['idle'],
};

/** `to` after checking the table (staying is allowed); throws `IllegalStateError` on a move it forbids. */
export function move(from: Lifecycle, to: Lifecycle, why: string): Lifecycle {
  if (from !== to && !MOVES[from].includes(to)) throw new IllegalStateError(`illegal lifecycle move ${from} → ${to} (${why})`, { from, to, reason: why });
  return to;
}

/**
 * What the operator asked for, latest wins.
 * - `policy`: nothing: procmgr keeps the process to its restart policy.
 * - `stopped`: an explicit stop: kept stopped (Disabled) until an explicit start.
 * - `restart`: an explicit restart is pending: the run is stopped and a new one started.
 */
export type Wanted = 'policy' | 'stopped' | 'restart';
