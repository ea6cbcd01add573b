/**
 * Typed errors. Every error procmgr raises on purpose is a `ProcmgrError` with a literal `code`;
 * callers branch on `code` (or `isProcmgrError`), never on `message`.
 */

// A registered symbol survives duplicate copies of this package and other realms, where
// `instanceof` would not.
const BRAND = Symbol.for('procmgr.error');

/** Base class of every error procmgr raises on purpose. Anyone may catch it; only procmgr constructs it. */
export class ProcmgrError<Code extends string = string> extends Error {
  readonly code: Code;
  /** Structured extras for logs and API bodies (never parsed back). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: Code, message: string, options?: { cause?: unknown; details?: Record<string, unknown> | undefined }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
    this.name = new.target.name;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True for any `ProcmgrError`, also one from another copy of this package. */
export function isProcmgrError(err: unknown): err is ProcmgrError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/** A caller passed something malformed: an id, an update type, a negative duration. Nothing changed. */
export class InvalidArgumentError extends ProcmgrError<'INVALID_ARGUMENT'> {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INVALID_ARGUMENT', message, { details });
  }
}

/** The id names no known process. Nothing changed. */
export class NotFoundError extends ProcmgrError<'NOT_FOUND'> {
  constructor(message: string, details?: Record<string, unknown>) {
    super('NOT_FOUND', message, { details });
  }
}

/** The call is not allowed in the current state (for example after shutdown). Nothing changed. */
export class IllegalStateError extends ProcmgrError<'ILLEGAL_STATE'> {
  constructor(message: string, details?: Record<string, unknown>) {
    super('ILLEGAL_STATE', message, { details });
  }
}

/** The manager is shutting down or shut down and takes no new work. */
export class ShutdownError extends ProcmgrError<'SHUT_DOWN'> {
  constructor(message = 'the process manager is shut down') {
    super('SHUT_DOWN', message);
  }
}

/** A bounded table or queue is full; the update was refused, nothing changed. */
export class QueueFullError extends ProcmgrError<'QUEUE_FULL'> {
  constructor(message: string, details?: Record<string, unknown>) {
    super('QUEUE_FULL', message, { details });
  }
}

/** A syncer call ran past its deadline (or ignored its abort signal for too long). Retried as transient. */
export class SyncTimeoutError extends ProcmgrError<'SYNC_TIMEOUT'> {
  constructor(message: string, details?: Record<string, unknown>) {
    super('SYNC_TIMEOUT', message, { details });
  }
}

/**
 * Thrown by a syncer to say "retrying cannot help" (controller-runtime's TerminalError):
 * from `syncProcess` it ends the process like `terminal: true`, and is never retried.
 */
export class TerminalError extends ProcmgrError<'TERMINAL'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TERMINAL', message, options);
  }
}

/** Shutdown reached its deadline (or its signal aborted) with processes not yet finished. */
export class ShutdownTimeoutError extends ProcmgrError<'SHUTDOWN_TIMEOUT'> {
  /** Ids that were force-stopped: their hooks were aborted and abandoned. */
  readonly forced: readonly string[];
  constructor(forced: readonly string[]) {
    super('SHUTDOWN_TIMEOUT', `shutdown deadline passed; force-stopped ${forced.length} process(es): ${preview(forced)}`, {
      details: { forced },
    });
    this.forced = forced;
  }
}

/** A terminate promise whose process was force-stopped by shutdown before it terminated. */
export class ForceStoppedError extends ProcmgrError<'FORCE_STOPPED'> {
  constructor(id: string) {
    super('FORCE_STOPPED', `process "${id}" was force-stopped by shutdown before it terminated`, { details: { id } });
  }
}

/** The manager hit a bug in its own code and stopped (deterministic degradation); `cause` has the bug. */
export class ManagerFailedError extends ProcmgrError<'MANAGER_FAILED'> {
  constructor(cause: unknown) {
    super('MANAGER_FAILED', `the process manager failed internally and stopped: ${describe(cause)}`, { cause });
  }
}

/** A short, safe rendering of any thrown value for messages. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return '<unprintable error>';
  }
}

function preview(ids: readonly string[]): string {
  const head = ids.slice(0, 5).join(', ');
  return ids.length > 5 ? `${head}, … (+${ids.length - 5})` : head;
}
