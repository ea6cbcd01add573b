// The peers benchmark's floor, run by plain `node` (Node 24 strips the types): a bare
// child_process.spawn loop with no manager around it. One JSON command a line on stdin, one "ok"
// line on stdout once it is carried out:
//   {"op":"start","apps":[{"command","args","env"}]}  spawn each; respawn it at once when it exits
//   {"op":"stop"}                                      SIGTERM every app (no respawn)
// "ready" is printed when it reads commands; stdin's end stops the apps and exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

interface App {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
}

const running = new Set<ChildProcess>();
let stopping = false;

function run(app: App): void {
  // Spawned as a supervisor does: own process group, stdin ignored, output piped and drained.
  const child = spawn(app.command, app.args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...app.env },
  });
  running.add(child);
  child.stdout?.resume();
  child.stderr?.resume();
  child.once('error', () => undefined);
  child.once('exit', () => {
    running.delete(child);
    if (!stopping) run(app);
  });
}

function stopAll(): void {
  stopping = true;
  for (const child of running) {
    try {
      process.kill(-(child.pid ?? 0), 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const cmd = JSON.parse(line) as { op: 'start'; apps: App[] } | { op: 'stop' };
    if (cmd.op === 'start') {
      stopping = false;
      for (const app of cmd.apps) run(app);
    } else stopAll();
    process.stdout.write('ok\n');
  })
  .on('close', () => {
    stopAll();
    process.exitCode = 0;
  });
process.stdout.write('ready\n');
