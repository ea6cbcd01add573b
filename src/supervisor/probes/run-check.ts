import type { Clock, TimerHandle } from '../../util/index.js';
import { describe } from '../../util/index.js';
import { ProbeTimeoutError } from './errors.js';
import { Ticker } from './ticker.js';
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
  /** Times the timeout: checks started together share one timer for it. Default: one of its own. */
  readonly ticker?: Ticker | undefined;
}

/**
 * Runs one check with a timeout on the injected clock and turns every outcome into a result:
 * a rejection is a failure, a timeout is `timed out after Nms`. Called by `ProbeSet` only.
 * Never rejects and never waits unboundedly: a check that ignores its abort is abandoned after
 * `abandonAfterMs`, so a broken check cannot wedge the loop or `stop()`.
 *
 * One promise, settled once by whichever comes first (the check's answer, or the abandonment
 * after an abort), and one listener: this runs for every check of every probe.
 */
export function runCheck(check: ProbeCheck, opts: RunCheckOptions): Promise<ProbeResult> {
  const { clock, timeoutMs, abandonAfterMs, signal } = opts;
  return new Promise<ProbeResult>((resolve) => {
    const controller = new AbortController();
    // Built only when the timer fires: an Error (with its stack) per check adds up at 100 checks a second.
    let timeout: ProbeTimeoutError | undefined;
    let abandonTimer: TimerHandle | undefined;
    let settled = false;
    const settle = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      abandonTimer?.cancel();
      signal.removeEventListener('abort', onStop);
      resolve(result);
    };
    // Every abort (timeout or stop) goes through here: the check gets `abandonAfterMs` to notice.
    const abort = (reason: unknown): void => {
      if (settled || controller.signal.aborted) return;
      controller.abort(reason);
      const message = `${describe(reason)} (the check ignored its abort and was abandoned)`;
      abandonTimer = clock.setTimer(() => settle({ ok: false, message }), abandonAfterMs);
    };
    const onStop = (): void => abort(signal.reason);
    const onTimeout = (): void => {
      timeout = new ProbeTimeoutError(timeoutMs);
      abort(timeout);
    };
    const timer = (opts.ticker ?? new Ticker(clock)).at(clock.now() + timeoutMs, onTimeout);
    // A check that noticed the abort may answer with its own wording; the timeout says more.
    const answer = (result: ProbeResult): void =>
      settle(timeout !== undefined && controller.signal.reason === timeout ? { ok: false, message: timeout.message } : result);
    // Every way a check can go wrong (a sync throw, a rejection) becomes a failed result, so the
    // probe loop never dies of one.
    const failed = (err: unknown): void => answer({ ok: false, message: describe(controller.signal.aborted ? controller.signal.reason : err) });
    if (signal.aborted) onStop();
    else signal.addEventListener('abort', onStop, { once: true });
    try {
      Promise.resolve(check(controller.signal)).then(answer, failed);
    } catch (err) {
      failed(err);
    }
  });
}
