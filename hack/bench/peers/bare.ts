import { fileURLToPath } from 'node:url';
import { Spawned, pollUntil } from './child.js';
import type { App, Contender } from './contender.js';

const BARE_SUPERVISOR = fileURLToPath(new URL('../apps/bare-supervisor.ts', import.meta.url));

/**
 * The floor: hack/bench/apps/bare-supervisor.ts, a bare spawn loop in its own Node process (so the
 * benchmark's /proc polling never delays its respawns), driven by JSON lines on stdin.
 */
export class Bare implements Contender {
  readonly name = 'bare';
  readonly probes = false;
  #p: Spawned | undefined;
  #acks = 0;

  async boot(): Promise<number> {
    const p = new Spawned(process.execPath, [BARE_SUPERVISOR], { stdin: true });
    this.#p = p;
    this.#acks = 0;
    await pollUntil(() => (p.lines.includes('ready') ? true : (p.assertRunning('starting'), undefined)), 'the bare loop', { everyMs: 1, limitMs: 30_000 });
    return performance.now() - p.spawnedAt;
  }

  daemonPid(): number {
    return this.#need().pid;
  }

  startApps(apps: readonly App[]): Promise<void> {
    return this.#send({ op: 'start', apps: apps.map((a) => ({ command: a.command, args: a.args, env: a.env ?? {} })) });
  }

  stopApps(): Promise<void> {
    return this.#send({ op: 'stop' });
  }

  async clear(): Promise<void> {
    // Stopped apps are forgotten as they exit.
  }

  async shutdown(): Promise<void> {
    const p = this.#p;
    if (!p) return;
    p.child.stdin?.end();
    await p.stop(5_000);
    this.#p = undefined;
  }

  #need(): Spawned {
    if (!this.#p) throw new Error('the bare loop is not running');
    return this.#p;
  }

  async #send(cmd: unknown): Promise<void> {
    const p = this.#need();
    const want = ++this.#acks;
    p.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
    await pollUntil(() => (p.lines.filter((l) => l === 'ok').length >= want ? true : (p.assertRunning('a command'), undefined)), 'the bare loop to answer', {
      everyMs: 1,
      limitMs: 30_000,
    });
  }
}
