import { describe, realClock, sleep } from '../../src/util/index.js';

/**
 * The tests' one polling helper: calls `check` (sync or async) until it returns something other
 * than undefined/false, and returns that. A check that throws (the API not answering yet) is
 * retried; its last error is in the timeout's message. Real time on purpose: it waits for real
 * processes and servers. Timeouts are generous, never a speed assertion.
 */
export async function eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 10): Promise<T> {
  let last: unknown;
  for (const end = realClock.now() + timeoutMs; ; await sleep(realClock, everyMs)) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (realClock.now() >= end) break;
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last === undefined ? '' : ` (last error: ${describe(last)})`}`);
}
