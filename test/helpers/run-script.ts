import { spawn } from 'node:child_process';

/**
 * Runs a bash script of hack/ for a tier's globalSetup: its output goes to stderr as it comes,
 * and a failure rejects with the last lines, so a broken setup fails the run (never a skip).
 */
export function runScript(script: string, args: readonly string[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const forward = (chunk: Buffer): void => {
      output.push(chunk.toString());
      process.stderr.write(chunk);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const tail = output.join('').split('\n').slice(-80).join('\n');
      reject(new Error(`${script} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}
