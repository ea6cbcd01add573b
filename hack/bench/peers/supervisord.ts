import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Spawned, pollUntil, runCommand } from './child.js';
import type { App, Contender } from './contender.js';

/** An XML-RPC call over supervisord's unix socket: true when it answered 200. */
function rpcAnswers(socketPath: string, method: string): Promise<boolean> {
  const body = `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params/></methodCall>`;
  return new Promise((resolve) => {
    const req = http.request({ socketPath, method: 'POST', path: '/RPC2', agent: false, headers: { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

// supervisord quotes values of `environment=` as KEY="value"; the benchmark's values need no escaping.
const envLine = (env: Readonly<Record<string, string>>): string =>
  Object.entries(env)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');

/**
 * Debian's supervisord in the foreground (-n) with its own config, socket, pidfile and logs in a
 * temp dir, driven through supervisorctl: programs are added as files of an [include] directory and
 * applied with `supervisorctl update` (the documented way to add programs to a running
 * supervisord), stopped with `supervisorctl stop all`. Restarts are as quick as it allows:
 * autorestart, startsecs=0, no retry limit worth the name.
 */
export class Supervisord implements Contender {
  readonly name = 'supervisord';
  readonly probes = false;
  #dir = '';
  #d: Spawned | undefined;

  get #conf(): string {
    return path.join(this.#dir, 'supervisord.conf');
  }

  get #socket(): string {
    return path.join(this.#dir, 'supervisor.sock');
  }

  get #programs(): string {
    return path.join(this.#dir, 'programs');
  }

  async boot(): Promise<number> {
    this.#dir = mkdtempSync(path.join(os.tmpdir(), 'procmgr-bench-peers-supervisord-'));
    mkdirSync(this.#programs);
    mkdirSync(path.join(this.#dir, 'logs'));
    const conf = [
      '[unix_http_server]',
      `file=${this.#socket}`,
      'chmod=0700',
      '[supervisord]',
      `logfile=${path.join(this.#dir, 'supervisord.log')}`,
      `pidfile=${path.join(this.#dir, 'supervisord.pid')}`,
      `childlogdir=${path.join(this.#dir, 'logs')}`,
      'nodaemon=true',
      'loglevel=warn',
      '[rpcinterface:supervisor]',
      'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
      '[supervisorctl]',
      `serverurl=unix://${this.#socket}`,
      '[include]',
      `files = ${path.join(this.#programs, '*.conf')}`,
      '',
    ].join('\n');
    writeFileSync(this.#conf, conf);
    const d = new Spawned('supervisord', ['-n', '-c', this.#conf], { cwd: this.#dir });
    this.#d = d;
    await pollUntil(
      async () => {
        d.assertRunning('starting');
        return (await rpcAnswers(this.#socket, 'supervisor.getState')) ? true : undefined;
      },
      'supervisord answering XML-RPC',
      { everyMs: 2, limitMs: 30_000 },
    );
    return performance.now() - d.spawnedAt;
  }

  daemonPid(): number {
    if (!this.#d) throw new Error('supervisord is not running');
    return this.#d.pid;
  }

  #ctl(...args: string[]): Promise<string> {
    return runCommand('supervisorctl', ['-c', this.#conf, ...args], { cwd: this.#dir });
  }

  async startApps(apps: readonly App[]): Promise<void> {
    for (const a of apps) {
      const lines = [
        `[program:${a.name}]`,
        `command=${[a.command, ...a.args].join(' ')}`,
        'autostart=true',
        'autorestart=true',
        'startsecs=0',
        'startretries=1000000',
        'stopsignal=TERM',
        'stopwaitsecs=10',
        ...(a.env ? [`environment=${envLine(a.env)}`] : []),
        '',
      ];
      writeFileSync(path.join(this.#programs, `${a.name}.conf`), lines.join('\n'));
    }
    await this.#ctl('update');
  }

  async stopApps(): Promise<void> {
    await this.#ctl('stop', 'all');
  }

  async clear(): Promise<void> {
    for (const f of readdirSync(this.#programs)) rmSync(path.join(this.#programs, f));
    await this.#ctl('update');
  }

  async shutdown(): Promise<void> {
    await this.#d?.stop(30_000);
    this.#d = undefined;
    if (this.#dir !== '') rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = '';
  }
}
