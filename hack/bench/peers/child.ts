import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import { realClock, sleep } from '../../../src/util/index.js';
import { markedEnv } from './sweep.js';

/** Polls `probe` every `everyMs` until it returns a value; fails after `limitMs`. */
export async function pollUntil<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, opts: { everyMs: number; limitMs: number }): Promise<T> {
  const end = performance.now() + opts.limitMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out after ${opts.limitMs} ms waiting for ${what}`);
    await sleep(realClock, opts.everyMs);
  }
}

/**
 * A long-running child of the benchmark (a daemon, the bare loop): marked, in its own process
 * group (so a Ctrl-C reaches the benchmark's sweep, not the daemon first), every output line kept.
 */
export class Spawned {
  readonly child: ChildProcess;
  readonly spawnedAt = performance.now();
  readonly lines: string[] = [];
  readonly exited: Promise<void>;

  constructor(command: string, args: readonly string[], opts: { env?: Record<string, string>; cwd?: string; stdin?: boolean } = {}) {
    const options: SpawnOptions = {
      detached: true,
      env: markedEnv(opts.env),
      stdio: [opts.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    };
    this.child = spawn(command, args, options);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.once('error', (err) => this.lines.push(`spawn error: ${err.message}`));
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.lines.push(line));
    }
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error(`did not start: ${this.lines.join('\n')}`);
    return pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  assertRunning(what: string): void {
    if (!this.running) throw new Error(`exited (${this.child.exitCode ?? this.child.signalCode}) while ${what}:\n${this.lines.slice(-15).join('\n')}`);
  }

  /** SIGTERM; SIGKILL to its group after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const ac = new AbortController();
    const late = sleep(realClock, graceMs, ac.signal).then(
      () => true,
      () => false,
    );
    const killed = await Promise.race([this.exited.then(() => false), late]);
    ac.abort();
    if (!killed) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
    await this.exited;
  }
}

/** Runs a command to its end; rejects with its output when it fails. */
export function runCommand(command: string, args: readonly string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<string> {
  const p = new Spawned(command, args, opts);
  // 'close' waits for the output too, unless a daemon it forked holds the pipes: then 'exit' and a moment.
  const closed = new Promise<void>((resolve) => p.child.once('close', () => resolve()));
  const done = Promise.race([closed, p.exited.then(() => sleep(realClock, 200))]);
  return done.then(() => {
    const out = p.lines.join('\n');
    if (p.child.exitCode !== 0) throw new Error(`${command} ${args.join(' ')} failed (${p.child.exitCode ?? p.child.signalCode}):\n${out}`);
    return out;
  });
}
