/**
 * Time is injected: nothing outside this folder calls Date.now, setTimeout or setInterval.
 * Every component takes a `Clock`; tests pass a `FakeClock`.
 */

/** A scheduled callback; `cancel` is idempotent. */
export interface TimerHandle {
  cancel(): void;
}

/** The only source of time and timers for procmgr's components. */
export interface Clock {
  /** Milliseconds since the epoch. Comparable with other `now()` values of the same clock. */
  now(): number;
  /** Runs `callback` once after `delayMs` (clamped to ≥ 0). */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
}

/** Wall-clock time and Node timers. Timers are unref'ed only when asked, so the owner decides liveness. */
export class RealClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const t = setTimeout(callback, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(t) };
  }
}

/** The process-wide real clock; stateless, so sharing it is safe. */
export const realClock: Clock = new RealClock();

/** Resolves after `ms` on `clock`, or rejects with `signal.reason` when aborted first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return waitForTimer((fire) => clock.setTimer(fire, ms), signal);
}

/**
 * Resolves when the timer that `schedule` arms fires (it is given the function to call), or
 * rejects with `signal.reason` when aborted first; the abort cancels the timer. For timers that
 * are not plain `setTimer` ones, such as a shared batch of them.
 */
export function waitForTimer(schedule: (fire: () => void) => TimerHandle, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      // The AbortSignal convention: reject with whatever reason the aborter chose.
      reject(signal.reason as unknown);
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      reject(signal?.reason as unknown);
    };
    const timer = schedule(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A clock time (ms since the epoch) as an ISO 8601 string, for APIs that want one (Kubernetes status). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** A clock time as a `Date`, for APIs whose types want one (Kubernetes Events). */
export function dateOf(ms: number): Date {
  return new Date(ms);
}
