import { ProcmgrError } from '../util/index.js';

/** Why a process could not be started; each names the field of the spec to fix. */
export type SpawnFailure =
  | 'EXECUTABLE_NOT_FOUND'
  | 'NOT_EXECUTABLE'
  | 'CWD_MISSING'
  | 'UNKNOWN_USER'
  | 'UNKNOWN_GROUP'
  | 'PERMISSION_DENIED'
  | 'SPAWN_ERROR';

/**
 * A process could not be started. The supervisor puts the process in Failed with this error and
 * the engine retries with its backoff (the executable may appear, the directory may be created).
 */
export class SpawnError extends ProcmgrError<'SPAWN_FAILED'> {
  readonly reason: SpawnFailure;

  constructor(reason: SpawnFailure, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('SPAWN_FAILED', message, { cause: options?.cause, details: { reason, ...options?.details } });
    this.reason = reason;
  }
}

/** An unmanaged process could not be attached to (pid file missing or unreadable, pid not running). */
export class AttachError extends ProcmgrError<'ATTACH_FAILED'> {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('ATTACH_FAILED', message, options);
  }
}

/** A process did not go away even after SIGKILL to its group (stuck in the kernel, or not ours to kill). */
export class StopError extends ProcmgrError<'STOP_FAILED'> {
  constructor(message: string, details?: Record<string, unknown>) {
    super('STOP_FAILED', message, { details });
  }
}
