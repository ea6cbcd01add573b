import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { handleUnaryCall } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheck, healthServiceDefinition, ServingStatus } from '../../../src/supervisor/probes/index.js';
import type { HealthCheckRequest, HealthCheckResponse } from '../../../src/supervisor/probes/index.js';
import { runCheck } from '../../../src/supervisor/probes/run-check.js';
import { realClock } from '../../../src/util/index.js';
import { closedPort, ownTarget, spec } from './helpers.js';

const never = new AbortController().signal;
const servers: Server[] = [];

// A health server as an application would run it: '' is the whole server, 'slow' never answers.
const statuses = new Map<string, number>([
  ['', ServingStatus.SERVING],
  ['api', ServingStatus.SERVING],
  ['db', ServingStatus.NOT_SERVING],
]);
const check: handleUnaryCall<HealthCheckRequest, HealthCheckResponse> = (call, callback) => {
  const { service } = call.request;
  if (service === 'slow') return;
  const found = statuses.get(service);
  if (found === undefined) callback({ code: status.NOT_FOUND, details: 'unknown service' });
  else callback(null, { status: found });
};

async function startHealthServer(): Promise<number> {
  const server = new Server();
  servers.push(server);
  server.addService(healthServiceDefinition, { check });
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

function grpcSpec(port: number, service: string, timeout = 2_000) {
  return spec({ grpc: { host: '127.0.0.1', port, service } }, { timeout });
}

afterEach(() => {
  for (const server of servers.splice(0)) server.forceShutdown();
});

describe('grpc check against a real grpc.health.v1 server', () => {
  it.each([
    ['', { ok: true, message: 'grpc status SERVING' }],
    ['api', { ok: true, message: 'grpc status SERVING' }],
    ['db', { ok: false, message: 'grpc status NOT_SERVING' }],
    ['nope', { ok: false, message: 'grpc NOT_FOUND: unknown service' }],
  ])('service %j', async (service, expected) => {
    const port = await startHealthServer();
    expect(await createCheck(grpcSpec(port, service), ownTarget())(never)).toEqual(expected);
  });

  it('no server is a failed result', async () => {
    const port = await closedPort();
    const result = await createCheck(grpcSpec(port, ''), ownTarget())(never);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/^grpc UNAVAILABLE/);
  });

  it('a server that never answers times out', async () => {
    const port = await startHealthServer();
    const result = await runCheck(createCheck(grpcSpec(port, 'slow', 60_000), ownTarget()), {
      clock: realClock,
      timeoutMs: 300,
      abandonAfterMs: 5_000,
      signal: never,
    });
    expect(result).toEqual({ ok: false, message: 'timed out after 300ms' });
  });

  it('the deadline sent with the call is the probe timeout', async () => {
    const port = await startHealthServer();
    const result = await createCheck(grpcSpec(port, 'slow', 300), ownTarget())(never);
    expect(result).toMatchObject({ ok: false, message: expect.stringMatching(/^grpc DEADLINE_EXCEEDED/) as unknown });
  });
});
