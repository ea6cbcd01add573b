import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheck } from '../../../src/supervisor/probes/index.js';
import { close, closedPort, listen, ownTarget, spec } from './helpers.js';

const servers: net.Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map(close));
});

describe('tcp check against a real socket', () => {
  it('an open port passes and the connection is closed again', async () => {
    let open = 0;
    const server = net.createServer((socket) => {
      open++;
      socket.on('close', () => open--);
    });
    servers.push(server);
    const port = await listen(server);
    const result = await createCheck(spec({ tcp: { host: '127.0.0.1', port } }), ownTarget())(new AbortController().signal);
    expect(result).toEqual({ ok: true, message: `connected to 127.0.0.1:${port}` });
    await expect.poll(() => open, { timeout: 5_000 }).toBe(0);
  });

  it('a closed port fails with the connect error', async () => {
    const port = await closedPort();
    const result = await createCheck(spec({ tcp: { host: '127.0.0.1', port } }), ownTarget())(new AbortController().signal);
    expect(result).toEqual({ ok: false, message: `connect ECONNREFUSED 127.0.0.1:${port}` });
  });

  it('an aborted signal rejects with its reason', async () => {
    const port = await closedPort();
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(createCheck(spec({ tcp: { host: '127.0.0.1', port } }), ownTarget())(controller.signal)).rejects.toThrow('stop');
  });
});
