import type { Clock, TimerHandle } from '../../util/index.js';
import { describe } from '../../util/index.js';
import { ProbeTimeoutError } from './errors.js';
import type { ProbeCheck, ProbeResult } from './types.js';

/** Options of `runCheck`. */
export interface RunCheckOptions {
  readonly clock: Clock;
  /** The check is aborted, and counts as failed, after this long. */
  readonly timeoutMs: number;
  /** After an abort, how long to wait for a check that ignores its signal before abandoning it. */
  readonly abandonAfterMs: number;
  /** Aborts the check early (the ProbeSet stopping); the result is then meaningless. */
  readonly signal: AbortSignal;
}

/**
 * Runs one check with a timeout on the injected clock and turns every outcome into a result:
 * a rejection is a failure, a timeout is `timed out after Nms`. Called by `ProbeSet` only.
 * Never rejects and never waits unboundedly: a check that ignores its abort is abandoned after
 * `abandonAfterMs`, so a broken check cannot wedge the loop or `stop()`.
 */
export async function runCheck(check: ProbeCheck, opts: RunCheckOptions): Promise<ProbeResult> {
  const { clock, timeoutMs, abandonAfterMs, signal } = opts;
  const controller = new AbortController();
  // Built only when the timer fires: an Error (with its stack) per check adds up at 100 checks a second.
  let timeout: ProbeTimeoutError | undefined;
  const onStop = (): void => controller.abort(signal.reason);
  let abandonTimer: TimerHandle | undefined;
  let abandon: (result: ProbeResult) => void = () => undefined;
  const abandoned = new Promise<ProbeResult>((resolve) => (abandon = resolve));
  const onAbort = (): void => {
    const message = `${describe(controller.signal.reason)} (the check ignored its abort and was abandoned)`;
    abandonTimer = clock.setTimer(() => abandon({ ok: false, message }), abandonAfterMs);
  };
  controller.signal.addEventListener('abort', onAbort, { once: true });
  const timer = clock.setTimer(() => {
    timeout = new ProbeTimeoutError(timeoutMs);
    controller.abort(timeout);
  }, timeoutMs);
  if (signal.aborted) onStop();
  else signal.addEventListener('abort', onStop, { once: true });
  try {
    const running = invoke(check, controller.signal);
    const result = await Promise.race([running, abandoned]);
    // A check that noticed the abort may resolve with its own wording; the timeout says more.
    return timeout !== undefined && controller.signal.reason === timeout ? { ok: false, message: timeout.message } : result;
  } finally {
    timer.cancel();
    abandonTimer?.cancel();
    signal.removeEventListener('abort', onStop);
    controller.signal.removeEventListener('abort', onAbort);
  }
}

// Every way a check can go wrong (a sync throw, a rejection) becomes a failed result,
// so the probe loop never dies of one.
async function invoke(check: ProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
  try {
    return await check(signal);
  } catch (err) {
    return { ok: false, message: describe(signal.aborted ? signal.reason : err) };
  }
}
