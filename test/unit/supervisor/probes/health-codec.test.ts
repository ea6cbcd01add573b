import { describe, expect, it } from 'vitest';
import {
  decodeHealthRequest,
  decodeHealthResponse,
  encodeHealthRequest,
  encodeHealthResponse,
  ServingStatus,
} from '../../../../src/supervisor/probes/index.js';

describe('grpc.health.v1 codec', () => {
  it.each(['', 'svc', 'a.b.Service', 'é'.repeat(100)])('round-trips the request %#', (service) => {
    expect(decodeHealthRequest(encodeHealthRequest({ service }))).toEqual({ service });
  });

  it('encodes like protobuf: empty default fields vanish, strings are tag 0x0a + length', () => {
    expect(encodeHealthRequest({ service: '' })).toEqual(Buffer.alloc(0));
    expect(encodeHealthRequest({ service: 'ab' })).toEqual(Buffer.from([0x0a, 2, 0x61, 0x62]));
    expect(encodeHealthResponse({ status: ServingStatus.NOT_SERVING })).toEqual(Buffer.from([0x08, 2]));
  });

  it.each(Object.values(ServingStatus))('round-trips status %i', (status) => {
    expect(decodeHealthResponse(encodeHealthResponse({ status }))).toEqual({ status });
  });

  it('skips unknown fields of every wire type', () => {
    const buf = Buffer.from([0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x2a, 1, 0x00, 0x08, 1]);
    expect(decodeHealthResponse(buf)).toEqual({ status: ServingStatus.SERVING });
  });

  it.each([
    ['a truncated varint', [0x08, 0x80]],
    ['a truncated string', [0x0a, 5, 0x61]],
    ['an unsupported wire type', [0x0b]],
  ])('rejects %s with a typed error', (_name, bytes) => {
    expect(() => decodeHealthRequest(Buffer.from(bytes))).toThrow(expect.objectContaining({ code: 'HEALTH_CODEC' }));
  });
});
