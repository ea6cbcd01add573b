import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { findTokenFile } from '../../src/api/token-file.js';
import { realClock, sleep } from '../../src/util/index.js';
import { NODE } from './supervised.js';

/** The real `procmgr` command of this checkout. */
export const BIN = fileURLToPath(new URL('../../bin/procmgr.mjs', import.meta.url));

/** Runs `procmgr …args` to completion; resolves with its exit code and output. */
export function procmgr(args: readonly string[], opts: { env?: Record<string, string>; timeoutMs?: number; bin?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [opts.bin ?? BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = realClock.setTimer(() => {
      child.kill('SIGKILL');
      reject(new Error(`procmgr ${args.join(' ')} did not finish: ${stdout}${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.once('close', (code) => {
      // 'close': all output read, which 'exit' does not promise
      timer.cancel();
      resolve({ code, stdout, stderr });
    });
  });
}

/** One JSON log line of the daemon. */
export type LogRecord = Record<string, unknown> & { msg?: string };

/** `procmgr run` as a child process, with its log lines parsed and its API address read from them. */
export class DaemonProcess {
  readonly logs: LogRecord[] = [];
  readonly stderr: string[] = [];
  address = '';
  /** The API token the daemon generated (found the way the CLI finds it), or the configured one. */
  token: string | undefined;
  readonly exited: Promise<number | null>;
  private constructor(readonly child: ChildProcess) {
    // 'close', not 'exit': the exit can be reported before the last log lines have been read from the pipe.
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogRecord);
      } catch {
        this.logs.push({ msg: line });
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  /** Starts the daemon (`bin`: another launcher than the checkout's) on `configFile` with the API on a free port; resolves once it serves. */
  static start(configFile: string, extraArgs: readonly string[] = [], bin = BIN): Promise<DaemonProcess> {
    return DaemonProcess.launch(['run', '-c', configFile, '--listen', '127.0.0.1:0', ...extraArgs], bin);
  }

  /** Runs `procmgr …args` (`run` or `sidecar`) until it logs 'procmgr running'. */
  static async launch(args: readonly string[], bin = BIN): Promise<DaemonProcess> {
    const child = spawn(NODE, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const d = new DaemonProcess(child);
    try {
      const running = await d.waitLog((r) => r.msg === 'procmgr running', 30_000);
      d.address = String(running.api);
      d.token = (await findTokenFile(Number(d.address.slice(d.address.lastIndexOf(':') + 1))))?.token;
      return d;
    } catch (err) {
      await d.stop(); // never leave a daemon (and what it started) behind a failed start
      throw err;
    }
  }

  /** Resolves with the first log record (old or new) that matches. */
  async waitLog(match: (r: LogRecord) => boolean, timeoutMs = 15_000): Promise<LogRecord> {
    for (const end = realClock.now() + timeoutMs; realClock.now() < end; await sleep(realClock, 20)) {
      const found = this.logs.find(match);
      if (found) return found;
      if (this.child.exitCode !== null) throw new Error(`daemon exited ${this.child.exitCode}: ${this.stderr.join('\n')}`);
    }
    throw new Error(`no matching log line in ${timeoutMs}ms; last lines:\n${this.logs.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`);
  }

  url(path: string): string {
    return `http://${this.address}${path}`;
  }

  /** A request with the daemon's token (unless `init.headers` names an Authorization of its own). */
  async json<T = unknown>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
    const headers = new Headers(init?.headers);
    if (this.token !== undefined && !headers.has('authorization')) headers.set('Authorization', `Bearer ${this.token}`);
    const res = await fetch(this.url(path), { ...init, headers });
    return { status: res.status, body: (await res.json()) as T };
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** SIGTERM and wait; SIGKILL if it does not exit in time (a test failure, but no leak). */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return await this.exited;
    this.signal('SIGTERM');
    const timer = realClock.setTimer(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      timer.cancel();
    }
  }
}

export { eventually } from './eventually.js';

/** Writes a config file (YAML text) into `dir`; returns its path. */
export function writeConfig(dir: string, yaml: string, name = 'procmgr.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}
