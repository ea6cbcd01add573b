/**
 * AbortSignal helpers. Listeners are always added with `{ once: true }` and removed when the
 * work they guard is done, so a long-lived signal never accumulates listeners.
 */

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

/**
 * Resolves when `signal` aborts; the returned `dispose` removes the listener when the caller
 * stops caring, so no listener outlives its work.
 */
export function whenAborted(signal: AbortSignal): { promise: Promise<unknown>; dispose: () => void } {
  if (signal.aborted) return { promise: Promise.resolve(signal.reason), dispose: () => undefined };
  let onAbort: () => void = () => undefined;
  const promise = new Promise<unknown>((resolve) => {
    onAbort = () => resolve(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}
