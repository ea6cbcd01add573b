import { ProcmgrError } from '../../util/index.js';

/**
 * A grpc.health.v1 message could not be decoded. Thrown by the codec inside grpc-js, which turns
 * it into a failed call; the grpc check then reports a failed probe.
 */
export class HealthCodecError extends ProcmgrError<'HEALTH_CODEC'> {
  constructor(message: string) {
    super('HEALTH_CODEC', message);
  }
}

/** The abort reason `ProbeSet` gives a check that ran past its probe's `timeout`. */
export class ProbeTimeoutError extends ProcmgrError<'PROBE_TIMEOUT'> {
  constructor(timeoutMs: number) {
    super('PROBE_TIMEOUT', `timed out after ${timeoutMs}ms`, { details: { timeoutMs } });
  }
}
