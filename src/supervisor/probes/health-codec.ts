import type { ServiceDefinition } from '@grpc/grpc-js';
import { HealthCodecError } from './errors.js';

/**
 * A hand-written codec for the two tiny grpc.health.v1 messages, so procmgr needs neither
 * protobufjs nor a .proto file at run time:
 *
 *   message HealthCheckRequest  { string service = 1; }
 *   message HealthCheckResponse { ServingStatus status = 1; }
 */

/** grpc.health.v1 ServingStatus values (SERVICE_UNKNOWN is only sent by Watch). */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

/** The name of a ServingStatus number, for probe messages; unknown numbers print as themselves. */
export function servingStatusName(status: number): string {
  const entry = Object.entries(ServingStatus).find(([, v]) => v === status);
  return entry ? entry[0] : String(status);
}

/** The request of Health/Check. */
export interface HealthCheckRequest {
  readonly service: string;
}

/** The response of Health/Check; `status` is a ServingStatus number. */
export interface HealthCheckResponse {
  readonly status: number;
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Encodes a request; an empty service is the default field and so is omitted, as protobuf does. */
export function encodeHealthRequest(req: HealthCheckRequest): Buffer {
  if (req.service === '') return Buffer.alloc(0);
  const bytes = Buffer.from(req.service, 'utf8');
  return Buffer.concat([Buffer.from([(1 << 3) | WIRE_LEN]), varint(bytes.length), bytes]);
}

/** Decodes a request (used by health servers, such as the ones in the integration tests). */
export function decodeHealthRequest(buf: Buffer): HealthCheckRequest {
  let service = '';
  readFields(buf, (field, wire, value) => {
    if (field === 1 && wire === WIRE_LEN && Buffer.isBuffer(value)) service = value.toString('utf8');
  });
  return { service };
}

/** Encodes a response (used by health servers). */
export function encodeHealthResponse(res: HealthCheckResponse): Buffer {
  if (res.status === 0) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from([(1 << 3) | WIRE_VARINT]), varint(res.status)]);
}

/** Decodes a response; a missing status is UNKNOWN (0), the protobuf default. */
export function decodeHealthResponse(buf: Buffer): HealthCheckResponse {
  let status = 0;
  readFields(buf, (field, wire, value) => {
    if (field === 1 && wire === WIRE_VARINT && typeof value === 'number') status = value;
  });
  return { status };
}

/** The grpc-js service definition of grpc.health.v1.Health (Check only); clients and servers share it. */
export const healthServiceDefinition = {
  check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeHealthRequest,
    requestDeserialize: decodeHealthRequest,
    responseSerialize: encodeHealthResponse,
    responseDeserialize: decodeHealthResponse,
  },
} satisfies ServiceDefinition;

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

type FieldVisitor = (field: number, wire: number, value: number | Buffer) => void;

// Walks every field, skipping the ones the caller ignores, so newer messages still decode.
function readFields(buf: Buffer, visit: FieldVisitor): void {
  let pos = 0;
  const readVarint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = buf[pos++];
      if (byte === undefined) throw new HealthCodecError('truncated varint');
      // Values above 2^53 lose precision; no field we read can be that large.
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return result;
    }
    throw new HealthCodecError('varint longer than 10 bytes');
  };
  const take = (n: number): Buffer => {
    if (pos + n > buf.length) throw new HealthCodecError('truncated field');
    const slice = buf.subarray(pos, pos + n);
    pos += n;
    return slice;
  };
  while (pos < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === WIRE_VARINT) visit(field, wire, readVarint());
    else if (wire === WIRE_LEN) visit(field, wire, take(readVarint()));
    else if (wire === WIRE_I64) take(8);
    else if (wire === WIRE_I32) take(4);
    else throw new HealthCodecError(`unsupported wire type ${wire}`);
  }
}
