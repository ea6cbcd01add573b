import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// vitest globalSetup of the container tier: a Docker engine and the procmgr:dev image, built by
// hack/docker (installs docker.io and starts dockerd when none runs; everything cached). A failure
// fails the run, in CI or not: it is never turned into a skip.
const IMAGE = fileURLToPath(new URL('../../hack/docker/image.sh', import.meta.url));

export default async function setup(): Promise<void> {
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [IMAGE], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const forward = (chunk: Buffer): void => {
      output.push(chunk.toString());
      process.stderr.write(chunk);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${IMAGE} failed (exit ${code}):\n${output.join('').split('\n').slice(-60).join('\n')}`))));
  });
}
