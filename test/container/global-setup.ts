import { fileURLToPath } from 'node:url';
import { runScript } from '../helpers/run-script.js';

// vitest globalSetup of the container tier: a Docker engine and the procmgr:dev image, built by
// hack/docker (installs docker.io and starts dockerd when none runs; everything cached). A failure
// fails the run, in CI or not: it is never turned into a skip.
const IMAGE = fileURLToPath(new URL('../../hack/docker/image.sh', import.meta.url));

export default async function setup(): Promise<void> {
  // No registry here to pull Ryuk from: the tests remove their containers themselves.
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';
  await runScript(IMAGE);
}
