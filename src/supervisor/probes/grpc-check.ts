import type * as GrpcJs from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { describe, realClock } from '../../util/index.js';
import { healthServiceDefinition, ServingStatus, servingStatusName } from './health-codec.js';
import type { HealthCheckRequest, HealthCheckResponse } from './health-codec.js';
import type { ProbeCheck, ProbeResult } from './types.js';

/** The `grpc` part of a parsed probe spec, plus the probe's timeout (sent as the call's deadline). */
export interface GrpcProbeOptions {
  readonly host: string;
  readonly port: number;
  readonly service: string;
  readonly timeoutMs: number;
}

const { check } = healthServiceDefinition;

// @grpc/grpc-js is loaded by the first gRPC check, not at start: its load time and memory are
// what a daemon without gRPC probes never needs.
let grpcModule: Promise<typeof GrpcJs> | undefined;
const grpc = (): Promise<typeof GrpcJs> => (grpcModule ??= import('@grpc/grpc-js'));

/**
 * A grpc.health.v1 Health/Check check, built by `createCheck`: SERVING passes. Insecure
 * credentials, like the kubelet. Each check opens its own client and closes it when the call
 * ends, so a stopped ProbeSet holds no channel (the kubelet also dials per check).
 */
export function grpcCheck(opts: GrpcProbeOptions): ProbeCheck {
  const address = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
  return async (signal) => {
    const { Client, credentials, Metadata, status: GrpcStatus } = await grpc();
    return new Promise<ProbeResult>((resolve, reject) => {
      signal.throwIfAborted();
      const client = new Client(address, credentials.createInsecure());
      // A gRPC deadline is a wall-clock instant by protocol (grpc-js compares it with Date), so
      // real time is right here; the probe's own timeout is still the runner's abort on its clock.
      const deadline = realClock.now() + opts.timeoutMs;
      const onAbort = (): void => call.cancel();
      const call = client.makeUnaryRequest<HealthCheckRequest, HealthCheckResponse>(
        check.path,
        check.requestSerialize,
        check.responseDeserialize,
        { service: opts.service },
        new Metadata(),
        { deadline },
        (err: ServiceError | null, res?: HealthCheckResponse) => {
          signal.removeEventListener('abort', onAbort);
          client.close();
          if (signal.aborted) reject(signal.reason as unknown);
          else if (err) resolve({ ok: false, message: `grpc ${GrpcStatus[err.code] ?? err.code}: ${err.details || describe(err)}` });
          else {
            const status = res?.status ?? ServingStatus.UNKNOWN;
            resolve({ ok: status === ServingStatus.SERVING, message: `grpc status ${servingStatusName(status)}` });
          }
        },
      );
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };
}
