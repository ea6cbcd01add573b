import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pollUntil, runCommand, Spawned } from './child.js';
import type { App, Contender } from './contender.js';
import { PM2_VERSION } from './install.js';

/** True when something accepts a connection on the unix socket. */
function accepts(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * PM2 from the npm registry (install.ts), PM2_HOME in a temp dir, driven through its CLI: the
 * daemon is brought up by `pm2 ping`, apps start from one ecosystem file (`pm2 start`), stop with
 * `pm2 stop all`, go with `pm2 delete all`, and the daemon with `pm2 kill`. Restarts are as quick
 * as it allows: restart_delay 0, min_uptime 0, no practical max_restarts.
 */
export class Pm2 implements Contender {
  readonly name = 'pm2';
  readonly probes = false;
  readonly #cli: string;
  #home = '';
  #ping: Spawned | undefined;

  constructor(cli: string) {
    this.#cli = cli;
  }

  get #env(): Record<string, string> {
    // No update check and no first-run banner or install ping; no prompts.
    return { PM2_HOME: this.#home, PM2_DISABLE_VERSION_CHECK: 'true', PM2_DISCRETE_MODE: 'true', PM2_NO_INTERACTION: 'true' };
  }

  #run(...args: string[]): Promise<string> {
    return runCommand(process.execPath, [this.#cli, ...args], { env: this.#env, cwd: this.#home });
  }

  async boot(): Promise<number> {
    this.#home = mkdtempSync(path.join(os.tmpdir(), 'procmgr-bench-peers-pm2-'));
    // The file whose absence makes the first CLI call print a banner and report the install.
    writeFileSync(path.join(this.#home, 'touch'), '0');
    const ping = new Spawned(process.execPath, [this.#cli, 'ping'], { env: this.#env, cwd: this.#home });
    this.#ping = ping;
    const rpc = path.join(this.#home, 'rpc.sock');
    await pollUntil(async () => ((await accepts(rpc)) ? true : undefined), `PM2 ${PM2_VERSION} daemon accepting on rpc.sock`, { everyMs: 2, limitMs: 30_000 });
    const ms = performance.now() - ping.spawnedAt;
    await ping.exited;
    if (ping.child.exitCode !== 0) throw new Error(`pm2 ping failed:\n${ping.lines.join('\n')}`);
    return ms;
  }

  daemonPid(): number {
    return Number(readFileSync(path.join(this.#home, 'pm2.pid'), 'utf8').trim());
  }

  async startApps(apps: readonly App[]): Promise<void> {
    const file = path.join(this.#home, 'ecosystem.config.cjs');
    const config = apps.map((a) => ({
      name: a.name,
      script: a.command,
      args: [...a.args],
      interpreter: 'none',
      ...(a.env ? { env: a.env } : {}),
      autorestart: true,
      restart_delay: 0,
      min_uptime: 0,
      max_restarts: 1_000_000,
      kill_signal: 'SIGTERM',
      kill_timeout: 10_000,
    }));
    writeFileSync(file, `module.exports = ${JSON.stringify({ apps: config }, null, 2)};\n`);
    await this.#run('start', file);
  }

  async stopApps(): Promise<void> {
    await this.#run('stop', 'all');
  }

  async clear(): Promise<void> {
    await this.#run('delete', 'all');
  }

  async shutdown(): Promise<void> {
    if (this.#home === '') return;
    let pid: number | undefined;
    try {
      pid = this.daemonPid();
    } catch {
      // never came up
    }
    await this.#run('kill').catch((err: unknown) => console.error(`  … pm2 kill failed: ${String(err)}`));
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited, as asked
      }
    }
    this.#ping?.child.kill('SIGKILL');
    this.#ping = undefined;
    rmSync(this.#home, { recursive: true, force: true });
    this.#home = '';
  }
}
