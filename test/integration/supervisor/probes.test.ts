import { Server, ServerCredentials } from '@grpc/grpc-js';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttp } from 'node:http';
import { createServer as createTcp, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessSpecInput } from '../../../src/config/index.js';
import { ServingStatus, healthServiceDefinition } from '../../../src/supervisor/probes/index.js';
import { NODE, fixture, supervised } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';
import { close, closedPort, listen } from '../probes/helpers.js';

let h: ReturnType<typeof supervised>;
const servers: NetServer[] = [];
const grpcServers: Server[] = [];
afterEach(async () => {
  await h.close();
  for (const s of servers.splice(0)) await close(s);
  for (const s of grpcServers.splice(0)) s.forceShutdown();
});

const fast = { interval: '100ms', timeout: '1s', failureThreshold: 2 };

async function healthService(extraEnv: Record<string, string>, probes: ProcessSpecInput['probes']): Promise<ProcessSpecInput> {
  const port = await closedPort();
  return {
    command: NODE, args: [fixture('health-server.mjs')], env: { PORT: String(port), ...extraEnv }, stopGracePeriod: '2s',
    restart: { delay: '10ms', breaker: { maxFailures: 0 } },
    probes: JSON.parse(JSON.stringify(probes).replaceAll('"$PORT"', String(port))) as ProcessSpecInput['probes'],
  };
}

describe('probes on supervised processes', () => {
  it('a failing liveness probe restarts the process through its policy', async () => {
    h = supervised();
    const sick = join(h.dir(), 'sick');
    // The startup probe gates liveness until the server listens (node may take a while to start on a loaded machine).
    const spec = await healthService(
      { SICK_FILE: sick },
      {
        startup: { tcp: { port: '$PORT' as unknown as number }, interval: '50ms', failureThreshold: 400 },
        liveness: { http: { port: '$PORT' as unknown as number, path: '/healthz' }, ...fast },
      },
    );
    h.create('web', spec);
    const first = await h.running('web');
    await eventually('liveness passing', () => h.supervisor.status('web')?.probes?.probes.liveness?.ok === true);
    writeFileSync(sick, '');
    await eventually('restart', () => h.of('started', 'web').length === 2);
    rmSync(sick);
    const exit = h.of('exited', 'web')[0];
    expect(exit?.pid).toBe(first);
    expect(exit?.reason).toMatch(/^liveness probe failed: HTTP 503/);
    expect(h.of('probe', 'web').find((e) => e.result === 'failed')).toMatchObject({ probe: 'liveness' });
    await h.running('web');
    expect(h.supervisor.status('web')?.restarts).toBe(1);
    // Every check (not only the flips) is reported with its duration, for the metrics.
    const checks = h.of('probeCheck', 'web').filter((c) => c.probe === 'liveness');
    expect(checks.filter((c) => c.ok).length).toBeGreaterThan(0);
    expect(checks.filter((c) => !c.ok).length).toBeGreaterThanOrEqual(2);
    expect(checks.every((c) => (c.probe === 'liveness' || c.probe === 'startup') && c.durationMs >= 0)).toBe(true);
  });

  it('readiness flips the ready flag both ways and never restarts', async () => {
    h = supervised();
    const unready = join(h.dir(), 'unready');
    writeFileSync(unready, '');
    const spec = await healthService({ UNREADY_FILE: unready }, { readiness: { http: { port: '$PORT' as unknown as number, path: '/ready' }, ...fast, failureThreshold: 1 } });
    h.create('web', spec);
    await h.running('web');
    await eventually('a failed readiness check', () => h.supervisor.status('web')?.probes?.probes.readiness?.ok === false);
    expect(h.supervisor.status('web')?.ready).toBe(false);
    rmSync(unready);
    await eventually('ready', () => h.supervisor.status('web')?.ready);
    writeFileSync(unready, '');
    await eventually('not ready', () => h.supervisor.status('web')?.ready === false);
    expect(h.of('probe', 'web').map((e) => `${e.probe} ${e.result}`)).toEqual(['readiness passed', 'readiness failed']);
    expect(h.of('started', 'web')).toHaveLength(1);
    expect(h.state('web')).toBe('Running');
  });

  it('the startup probe gates liveness: Starting until it passes, then liveness may restart', async () => {
    h = supervised();
    const started = join(h.dir(), 'started');
    h.create('slow', {
      command: 'sleep', args: ['1000'], env: { STARTED: started },
      restart: { delay: '10ms', breaker: { maxFailures: 0 } },
      probes: {
        startup: { exec: { command: 'sh', args: ['-c', 'test -f "$STARTED"'] }, interval: '50ms', failureThreshold: 1000 },
        liveness: { exec: { command: 'false' }, interval: '50ms', failureThreshold: 1 },
      },
    });
    await eventually('Starting', () => h.state('slow') === 'Starting' && h.pid('slow'));
    await eventually('a few startup checks', () => (h.supervisor.status('slow')?.probes?.probes.startup?.failures ?? 0) >= 3);
    expect(h.state('slow')).toBe('Starting');
    expect(h.of('probe', 'slow').filter((e) => e.probe === 'liveness')).toEqual([]); // gated
    writeFileSync(started, '');
    await eventually('liveness restart', () => h.of('started', 'slow').length >= 2);
    const states = h.of('state', 'slow').map((e) => e.to);
    expect(states.slice(0, 5)).toEqual(['Starting', 'Running', 'Stopping', 'Backoff', 'Starting']);
    expect(h.of('exited', 'slow')[0]?.reason).toBe('liveness probe failed: exit code 1');
  });

  it.each([
    ['http', async () => {
      const s = createHttp((req, res) => res.writeHead(req.url === '/ok' ? 200 : 500).end());
      servers.push(s);
      const port = await listen(s);
      return [{ http: { port, path: '/ok' } }, { http: { port, path: '/bad' } }];
    }],
    ['tcp', async () => {
      const s = createTcp((c) => c.end());
      servers.push(s);
      return [{ tcp: { port: await listen(s) } }, { tcp: { port: await closedPort() } }];
    }],
    ['exec', () => Promise.resolve([{ exec: { command: 'true' } }, { exec: { command: 'sh', args: ['-c', 'exit 2'] } }])],
    ['grpc', async () => {
      const s = new Server();
      grpcServers.push(s);
      s.addService(healthServiceDefinition, {
        check: (call: { request: { service: string } }, cb: (e: null, r: { status: number }) => void) =>
          cb(null, { status: call.request.service === 'up' ? ServingStatus.SERVING : ServingStatus.NOT_SERVING }),
      });
      const port = await new Promise<number>((res, rej) => s.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
      return [{ grpc: { port, service: 'up' } }, { grpc: { port, service: 'down' } }];
    }],
  ] as const)('%s readiness passes against a healthy target and fails against a broken one', async (_kind, targets) => {
    h = supervised();
    const [good, bad] = (await targets()) as [object, object];
    const probe = (p: object) => ({ readiness: { ...p, interval: '50ms', failureThreshold: 1 } });
    h.create('good', { command: 'sleep', args: ['1000'], probes: probe(good) });
    h.create('bad', { command: 'sleep', args: ['1000'], probes: probe(bad) });
    await eventually('good ready', () => h.supervisor.status('good')?.ready);
    await eventually('bad checked', () => h.supervisor.status('bad')?.probes?.probes.readiness?.ok === false);
    expect(h.supervisor.status('bad')?.ready).toBe(false);
    expect(h.supervisor.status('bad')?.probes?.probes.readiness?.message).not.toBe('');
  });
});
