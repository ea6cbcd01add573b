/**
 * Probes: kubelet-style startup, liveness and readiness checks (http, tcp, exec, grpc) for one
 * supervised process. The supervisor uses `ProbeSet`; the rest is for tests and health servers.
 */
export type { ProbeCheck, ProbeCheckResult, ProbeEvent, ProbeName, ProbeResult, ProbeSetStatus, ProbeStatus, ProbeTarget } from './types.js';
export { ProbeSet } from './probe-set.js';
export type { ProbeSetOptions } from './probe-set.js';
export { Ticker } from './ticker.js';
export { createCheck } from './create-check.js';
export { HealthCodecError, ProbeTimeoutError } from './errors.js';
export {
  decodeHealthRequest,
  decodeHealthResponse,
  encodeHealthRequest,
  encodeHealthResponse,
  healthServiceDefinition,
  ServingStatus,
} from './health-codec.js';
export type { HealthCheckRequest, HealthCheckResponse } from './health-codec.js';
