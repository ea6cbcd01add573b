/** Helpers for cancellation: recognising abort-like errors and making an abort reason. */

/** True when `err` means "cancelled or timed out" (by name or code, never by identity or message). */
export function isAbortLike(err: unknown): boolean {
  // Along the cause chain (`new Error('x', { cause: abortError })`), a bounded walk: a cycle ends it.
  for (let e = err, hops = 0; typeof e === 'object' && e !== null && hops < 16; e = (e as { cause?: unknown }).cause, hops++) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (name === 'AbortError' || name === 'TimeoutError' || code === 'ABORT_ERR' || code === 'ETIMEDOUT' || code === 'SYNC_TIMEOUT') return true;
  }
  return false;
}

/** A DOMException-style AbortError carrying `message`, for `controller.abort(reason)`. */
export function abortError(message: string): Error {
  const err = new Error(message);
  err.name = 'AbortError';
  return err;
}
