import type { ProbeSpec } from '../../config/index.js';
import { InvalidArgumentError } from '../../util/index.js';
import { execCheck } from './exec-check.js';
import { grpcCheck } from './grpc-check.js';
import { httpCheck } from './http-check.js';
import { tcpCheck } from './tcp-check.js';
import type { ProbeCheck, ProbeTarget } from './types.js';

/**
 * Builds the check a parsed probe spec describes. `ProbeSet` calls it once per probe at
 * construction (it is its default `checkFor`); the check itself does no I/O until called.
 */
export function createCheck(spec: ProbeSpec, target: ProbeTarget): ProbeCheck {
  if (spec.http) return httpCheck(spec.http);
  if (spec.tcp) return tcpCheck(spec.tcp);
  if (spec.exec) return execCheck(spec.exec, target);
  if (spec.grpc) return grpcCheck({ ...spec.grpc, timeoutMs: spec.timeout });
  // The schema guarantees exactly one kind; this only guards hand-built specs.
  throw new InvalidArgumentError('a probe needs one of http, tcp, exec or grpc');
}
