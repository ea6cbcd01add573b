import { Agent, request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks, realClock } from '../../../src/util/index.js';
import { eventually } from '../../helpers/eventually.js';
import { FakeBackend, info } from './fake-backend.js';
import { TEST_TOKEN, send, useServers } from './http.js';

const servers = useServers();

/** An open follow request: the lines received so far and how it ended. */
interface Follow {
  req: ClientRequest;
  res: IncomingMessage;
  lines: { line: string }[];
  ended: Promise<'end' | 'close'>;
}

function follow(address: string, path: string): Promise<Follow> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    // A keep-alive agent, as curl and browsers use: stop() must not wait for such a connection to idle out.
    const agent = new Agent({ keepAlive: true });
    const req = request({ host, port, path, agent, headers: { Authorization: `Bearer ${TEST_TOKEN}` } }, (res) => {
      const lines: { line: string }[] = [];
      let partial = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const p of parts) lines.push(JSON.parse(p) as { line: string });
      });
      const ended = new Promise<'end' | 'close'>((r) => {
        res.once('end', () => r('end'));
        res.once('close', () => r('close'));
      });
      res.once('close', () => agent.destroy());
      resolve({ req, res, lines, ended });
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.end();
  });
}

describe('GET /v1/processes/:id/logs?follow=1', () => {
  it('sends the buffered tail, streams new lines, and removes the follower when the client goes', async () => {
    const backend = new FakeBackend(info('web'));
    backend.emitLine('web', 'old-1');
    backend.emitLine('web', 'old-2');
    const { address } = await servers.start({ backend });
    const f = await follow(address, '/v1/processes/web/logs?follow=1&tail=1');
    expect(f.res.statusCode).toBe(200);
    expect(f.res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(backend.followerCount('web')).toBe(1);
    backend.emitLine('web', 'new-1');
    backend.emitLine('web', 'new-2', 'stderr');
    await eventually('three lines', () => f.lines.length === 3);
    expect(f.lines.map((l) => l.line)).toEqual(['old-2', 'new-1', 'new-2']);
    f.req.destroy();
    await eventually('the follower to be removed', () => backend.followerCount('web') === 0);
  });

  it('answers the headers at once when there is nothing buffered', async () => {
    const backend = new FakeBackend(info('quiet'));
    const { address } = await servers.start({ backend });
    const f = await follow(address, '/v1/processes/quiet/logs?follow=true');
    expect(f.res.statusCode).toBe(200);
    f.req.destroy();
    await eventually('the follower to be removed', () => backend.followerCount('quiet') === 0);
  });

  it('stop() ends an open follow stream and returns promptly', async () => {
    const backend = new FakeBackend(info('web'));
    const server = await servers.start({ backend });
    const f = await follow(server.address, '/v1/processes/web/logs?follow=1');
    backend.emitLine('web', 'hello');
    await eventually('the line', () => f.lines.length === 1);
    const t0 = realClock.now();
    await server.stop();
    expect(realClock.now() - t0).toBeLessThan(1_000);
    expect(await f.ended).toBe('end');
    expect(backend.followerCount('web')).toBe(0);
  });
});

describe('stop()', () => {
  it('closes idle keep-alive connections without waiting for their timeout', async () => {
    const server = await servers.start({ backend: new FakeBackend() });
    const agent = new Agent({ keepAlive: true });
    try {
      const [host, port] = server.address.split(':');
      await new Promise<void>((resolve, reject) => {
        request({ host, port: Number(port), path: '/healthz', agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
          .on('error', reject)
          .end();
      });
      const t0 = realClock.now();
      await server.stop();
      expect(realClock.now() - t0).toBeLessThan(1_000);
    } finally {
      agent.destroy();
    }
  });

  it('gives requests in flight stopGraceMs, then cuts them', async () => {
    const clock = new FakeClock();
    const backend = new FakeBackend(info('web'));
    let open!: () => void;
    backend.gate = new Promise((r) => (open = r));
    const server = await servers.start({ backend, clock, stopGraceMs: 2_000 });
    const pending = send(server.address, { method: 'POST', path: '/v1/processes/web/restart' }).catch((e: unknown) => e);
    await eventually('the restart call', () => backend.calls.length === 1);
    let stopped = false;
    const stopping = server.stop().then(() => (stopped = true));
    await flushMicrotasks();
    clock.advance(1_999);
    await flushMicrotasks();
    expect(stopped).toBe(false);
    clock.advance(1);
    await stopping;
    expect(await pending).toMatchObject({ code: 'ECONNRESET' });
    open();
  });
});
