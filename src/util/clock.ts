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
  /**
   * Runs `callback` once after `delayMs`: any finite delay, also past the 2³¹−1 ms a single Node
   * timer can hold; below 0 or NaN means 0, `Infinity` means never.
   */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
}

/** The longest delay one Node timer holds; a longer one would fire after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Wall-clock time and Node timers. Timers are unref'ed only when asked, so the owner decides liveness. */
export class RealClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    let remaining = delayMs > 0 ? delayMs : 0; // NaN too
    if (remaining === Infinity) return { cancel: () => undefined };
    if (remaining <= MAX_TIMER_MS) {
      const t = setTimeout(callback, remaining);
      return { cancel: () => clearTimeout(t) };
    }
    // Chained: each hop is as long as one timer holds, the last one runs the callback.
    let t: ReturnType<typeof setTimeout>;
    const hop = (): void => {
      const step = Math.min(remaining, MAX_TIMER_MS);
      remaining -= step;
      t = setTimeout(remaining > 0 ? hop : callback, step);
    };
    hop();
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
