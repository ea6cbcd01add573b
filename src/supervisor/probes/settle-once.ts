/**
 * The single outcome of a check on a socket or request. The first of answer, error and abort
 * wins: `finish` detaches from `signal`, destroys `handle` (which may itself emit an error that
 * then no longer counts) and runs the winner's `settle`. An abort rejects with its reason.
 */
export function settleOnce(signal: AbortSignal, handle: { destroy(): unknown }, reject: (reason: unknown) => void): (settle: () => void) => void {
  let done = false;
  const finish = (settle: () => void): void => {
    if (done) return;
    done = true;
    signal.removeEventListener('abort', onAbort);
    handle.destroy();
    settle();
  };
  const onAbort = (): void => finish(() => reject(signal.reason));
  signal.addEventListener('abort', onAbort, { once: true });
  return finish;
}
