/** Helpers for cancellation: recognising abort-like errors and making an abort reason. */

/** True when `err` means "cancelled or timed out" (by name or code, never by identity or message). */
export function isAbortLike(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { name, code } = err as { name?: unknown; code?: unknown };
  return (
    name === 'AbortError' ||
    name === 'TimeoutError' ||
    code === 'ABORT_ERR' ||
    code === 'ETIMEDOUT' ||
    code === 'SYNC_TIMEOUT'
  );
}

/** A DOMException-style AbortError carrying `message`, for `controller.abort(reason)`. */
export function abortError(message: string): Error {
  const err = new Error(message);
  err.name = 'AbortError';
  return err;
}
