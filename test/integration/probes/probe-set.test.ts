import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProbeEvent } from '../../../src/supervisor/probes/index.js';
import { ProbeSet } from '../../../src/supervisor/probes/index.js';
import { realClock } from '../../../src/util/index.js';
import { close, listen, ownTarget, spec, waitFor } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('ProbeSet on the real clock against a real server', () => {
  it('readiness follows the server health both ways, and liveness stays up', async () => {
    let healthy = true;
    const server = http.createServer((_req, res) => res.writeHead(healthy ? 200 : 503).end());
    const port = await listen(server);
    cleanups.push(() => close(server));
    const events: ProbeEvent[] = [];
    const http200 = { http: { host: '127.0.0.1', port, path: '/ready', scheme: 'http' as const, headers: {} } };
    const set = new ProbeSet({
      id: 'web',
      probes: { readiness: spec(http200, { interval: 30 }), liveness: spec({ tcp: { host: '127.0.0.1', port } }, { interval: 30 }) },
      target: ownTarget(),
      clock: realClock,
      onChange: (e) => events.push(e),
    });
    cleanups.push(() => set.stop());
    set.start();

    await waitFor(() => set.status.ready, 'ready');
    healthy = false;
    await waitFor(() => !set.status.ready, 'not ready');
    expect(set.status.probes.readiness?.message).toBe(`HTTP 503 from http://127.0.0.1:${port}/ready`);
    healthy = true;
    await waitFor(() => set.status.ready, 'ready again');
    await set.stop();

    expect(events.map((e) => `${e.probe} ${e.result}`)).toEqual(['readiness passed', 'readiness failed', 'readiness passed']);
    expect(set.status).toMatchObject({ started: true, live: true, ready: true });
  });
});
