import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Spawned, pollUntil } from './child.js';
import type { App, Contender, ProbeCount } from './contender.js';
import type { Installed } from './install.js';
import { freePorts } from '../daemon.js';

interface ApiProcess {
  readonly id: string;
  readonly probes?: { readonly probes?: { readonly liveness?: { readonly successes?: number } } };
}

const CHECK_COUNT = /^procmgr_probe_duration_seconds_count\{([^}]*)\} (\d+)$/gm;

/** One request to the daemon's API on 127.0.0.1: status and body, or undefined when nothing answers. */
function request(port: number, method: string, urlPath: string, token?: string, body?: unknown): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (data !== undefined) headers['content-type'] = 'application/json';
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(30_000, () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end(data);
  });
}

/**
 * procmgr as a user installs it (the pack of a commit, see install.ts), its daemon started by the
 * installed `procmgr run` with a config file in a temp dir, the apps set through its HTTP API
 * (`PUT /v1/processes`: the whole desired set in one request, as a config file declares it).
 */
export class Procmgr implements Contender {
  readonly probes = true;
  readonly name: string;
  readonly #bin: string;
  readonly #token = randomBytes(24).toString('hex');
  #dir: string | undefined;
  #port = 0;
  #d: Spawned | undefined;

  constructor(installed: Installed) {
    this.name = installed.label;
    this.#bin = installed.bin;
  }

  async boot(): Promise<number> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'procmgr-bench-peers-procmgr-'));
    this.#dir = dir;
    [this.#port = 0] = await freePorts(1);
    const file = path.join(dir, 'procmgr.yaml');
    const config = { processManager: { logLevel: 'warn', api: { listen: `127.0.0.1:${this.#port}`, token: this.#token }, reload: { watch: false } }, processes: [] };
    writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
    // The installed command itself: its shebang runs the Node first on PATH with procmgr's flags.
    const d = new Spawned(this.#bin, ['run', '-c', file], { cwd: dir });
    this.#d = d;
    await pollUntil(
      async () => {
        d.assertRunning('starting');
        return (await request(this.#port, 'GET', '/healthz')) === undefined ? undefined : performance.now();
      },
      `${this.name} answering /healthz`,
      { everyMs: 2, limitMs: 30_000 },
    );
    return performance.now() - d.spawnedAt;
  }

  daemonPid(): number {
    if (!this.#d) throw new Error(`${this.name} is not running`);
    return this.#d.pid;
  }

  async #put(processes: readonly unknown[]): Promise<void> {
    const res = await request(this.#port, 'PUT', '/v1/processes', this.#token, { processes });
    if (res?.status !== 200) throw new Error(`${this.name}: PUT /v1/processes answered ${res?.status ?? 'nothing'}: ${res?.body ?? ''}`);
  }

  startApps(apps: readonly App[]): Promise<void> {
    return this.#put(
      apps.map((a) => ({
        id: a.name,
        command: a.command,
        args: a.args,
        ...(a.env ? { env: a.env } : {}),
        stopGracePeriod: '10s',
        // Restarted at once, every time: no delay, no breaker.
        restart: { policy: 'always', delay: 0, breaker: { maxFailures: 0 } },
        // initialDelay only keeps 100 Node start-ups on a busy 2-core machine from failing three
        // 1 s checks before they listen; it is long over before the measured window.
        ...(a.probePort === undefined ? {} : { probes: { liveness: { http: { port: a.probePort, path: '/healthz' }, interval: '1s', initialDelay: '10s' } } }),
      })),
    );
  }

  stopApps(): Promise<void> {
    return this.#put([]);
  }

  async clear(): Promise<void> {
    // The empty set of stopApps left nothing to forget.
  }

  /**
   * Passes in a row from the API (`successes`, which a failure resets) and all checks from the
   * `procmgr_probe_duration_seconds` histogram of /metrics, whose count every check adds to.
   */
  async probeCounts(): Promise<ReadonlyMap<string, ProbeCount>> {
    const res = await request(this.#port, 'GET', '/v1/processes', this.#token);
    if (res?.status !== 200) throw new Error(`${this.name}: GET /v1/processes answered ${res?.status ?? 'nothing'}`);
    const metrics = await request(this.#port, 'GET', '/metrics', this.#token);
    if (metrics?.status !== 200) throw new Error(`${this.name}: GET /metrics answered ${metrics?.status ?? 'nothing'}`);
    const checks = new Map<string, number>();
    for (const m of metrics.body.matchAll(CHECK_COUNT)) {
      const labels = m[1] ?? '';
      const id = /(?:^|,)process="([^"]*)"/.exec(labels)?.[1];
      if (id !== undefined && /(?:^|,)probe="liveness"/.test(labels)) checks.set(id, Number(m[2]));
    }
    const out = new Map<string, ProbeCount>();
    for (const p of (JSON.parse(res.body) as { processes: ApiProcess[] }).processes) {
      const liveness = p.probes?.probes?.liveness;
      if (liveness === undefined) continue;
      out.set(p.id, { checks: checks.get(p.id) ?? 0, passedInARow: liveness.successes ?? 0 });
    }
    return out;
  }

  async shutdown(): Promise<void> {
    await this.#d?.stop(40_000);
    this.#d = undefined;
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}
