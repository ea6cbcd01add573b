import { fileURLToPath } from 'node:url';
import { runScript as run } from '../helpers/run-script.js';

// vitest globalSetup of the k8s project: starts (or reuses) the test cluster of hack/kube and
// holds a lease on it for this vitest process. At teardown the lease is released; the cluster
// stops only if this kind of lease started it and no other live test run holds one. A cluster
// started by hand with `npm run kube:up` stays up (fast reruns); nothing a test run starts is
// left running after it. A failure fails the run (CI or not): it is never turned into a skip.

const UP = fileURLToPath(new URL('../../hack/kube/up.sh', import.meta.url));
const DOWN = fileURLToPath(new URL('../../hack/kube/down.sh', import.meta.url));

export default async function setup(): Promise<() => Promise<void>> {
  const lease = String(process.pid);
  await run(UP, ['--lease', lease]);
  return () => run(DOWN, ['--release', lease]);
}
