import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// vitest globalSetup of the k8s project: starts (or reuses) the test cluster of hack/kube and
// holds a lease on it for this vitest process. At teardown the lease is released; the cluster
// stops only if this kind of lease started it and no other live test run holds one. A cluster
// started by hand with `npm run kube:up` stays up (fast reruns); nothing a test run starts is
// left running after it. A failure fails the run (CI or not): it is never turned into a skip.

const UP = fileURLToPath(new URL('../../hack/kube/up.sh', import.meta.url));
const DOWN = fileURLToPath(new URL('../../hack/kube/down.sh', import.meta.url));

function run(script: string, args: readonly string[]): Promise<void> {
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

export default async function setup(): Promise<() => Promise<void>> {
  const lease = String(process.pid);
  await run(UP, ['--lease', lease]);
  return () => run(DOWN, ['--release', lease]);
}
