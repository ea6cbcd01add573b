import { ProcmgrError, isProcmgrError } from '../util/index.js';

/** The codes the API itself answers with (the backend's own codes pass through, see `toHttpError`). */
export type ApiErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'TOKEN_REQUIRED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INTERNAL'
  /** Client side: nothing answers at the address (refused, no socket file, host unreachable). */
  | 'UNREACHABLE'
  /** Client side: the server sent no answer within the client's timeout. */
  | 'TIMEOUT'
  /** Client side: the answer was not the JSON the API sends. */
  | 'BAD_RESPONSE';

/**
 * An error on the HTTP boundary. The server throws it to answer with `status`; the client throws it
 * for every failed call, with the server's `code` (which may be a backend code such as
 * INVALID_CONFIG or SHUT_DOWN) or one of the client-side codes, where `status` is undefined.
 */
export class ApiError extends ProcmgrError {
  /** HTTP status; undefined when no response was received. */
  readonly status: number | undefined;
  /** Extra response headers the server sends with it (Allow, WWW-Authenticate). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    /** An `ApiErrorCode`, or a backend code passed through by the server. */
    code: string,
    status: number | undefined,
    message: string,
    options?: { details?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown },
  ) {
    super(code, message, { details: options?.details, cause: options?.cause });
    this.status = status;
    this.headers = options?.headers ?? {};
  }
}

/** `start()` could not listen: the address is taken, not ours, or malformed. `details.address` names it. */
export class ListenError extends ProcmgrError<'LISTEN_FAILED'> {
  constructor(address: string, message: string, cause?: unknown) {
    super('LISTEN_FAILED', `cannot listen on ${address}: ${message}`, { cause, details: { address } });
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** What the server sends for a thrown value. */
export interface HttpError {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
  /** Not one of ours or the backend's: log it with its stack; its message is not sent. */
  readonly unexpected: boolean;
}

// Backend codes by meaning. Keyed by `code` rather than class so an error from another copy of
// the package (or a hand-made ProcmgrError) maps the same way.
const BACKEND_STATUS: Readonly<Record<string, number>> = {
  NOT_FOUND: 404,
  INVALID_ARGUMENT: 400,
  INVALID_CONFIG: 422,
  // The manager takes no new work: shutting down, shut down, full, or stopped by an internal bug.
  ILLEGAL_STATE: 503,
  SHUT_DOWN: 503,
  QUEUE_FULL: 503,
  MANAGER_FAILED: 503,
  // The set has another owner (the sidecar's ProcessSet): the request conflicts with it.
  SOURCE_READ_ONLY: 409,
};

/** Maps anything a handler threw to a response. Only `ApiError` and the codes above keep their message. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof ApiError && err.status !== undefined) {
    return { status: err.status, body: bodyOf(err), headers: err.headers, unexpected: false };
  }
  if (isProcmgrError(err)) {
    const status = BACKEND_STATUS[err.code];
    if (status !== undefined) return { status, body: bodyOf(err), headers: {}, unexpected: false };
  }
  return {
    status: 500,
    body: { code: 'INTERNAL', message: 'internal error; see the procmgr log', details: {} },
    headers: {},
    unexpected: true,
  };
}

function bodyOf(err: ProcmgrError): ErrorBody {
  return { code: err.code, message: err.message, details: err.details ?? {} };
}
