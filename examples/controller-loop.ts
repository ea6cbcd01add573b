// A controller loop of your own, with procmgr as the library that runs the processes: an informer
// on ConfigMaps labelled `procmgr.dev/process`, each one a process (data.command, data.args as a
// JSON list). Every change of the informer's cache is handed to the engine; the full set goes to
// `syncKnownProcesses`, which stops whatever is no longer there. Run it with KUBECONFIG set:
//   NAMESPACE=default npx tsx examples/controller-loop.ts
import { CoreV1Api, KubeConfig, makeInformer, type V1ConfigMap } from '@kubernetes/client-node';
import { createSupervisedManager, realClock, type ProcessSpecInput } from '../src/index.js';

const namespace = process.env.NAMESPACE ?? 'default';
const kc = new KubeConfig();
kc.loadFromDefault();
const core = kc.makeApiClient(CoreV1Api);

const { manager } = createSupervisedManager({
  supervisor: {
    onEvent: (e) => {
      if (e.type === 'started') console.log(`started ${e.id} ${e.pid}`);
      if (e.type === 'exited') console.log(`exited ${e.id} ${e.pid}`);
    },
  },
});

const LABEL = 'procmgr.dev/process';
const informer = makeInformer<V1ConfigMap>(kc, `/api/v1/namespaces/${namespace}/configmaps`, () => core.listNamespacedConfigMap({ namespace, labelSelector: LABEL }), LABEL);

function specOf(cm: V1ConfigMap): ProcessSpecInput {
  return { command: cm.data?.command ?? '', args: JSON.parse(cm.data?.args ?? '[]') as string[] };
}

// The informer's cache is the desired state: declare each object, then reconcile the whole set.
function reconcile(): void {
  const desired = informer.list();
  for (const cm of desired) {
    const id = cm.metadata?.name ?? '';
    const known = manager.getStatus(id) !== undefined;
    manager.updateProcess({ id, type: known ? 'update' : 'create', config: specOf(cm) });
  }
  manager.syncKnownProcesses(desired.map((cm) => cm.metadata?.name ?? ''));
}

informer.on('add', reconcile);
informer.on('update', reconcile);
informer.on('delete', reconcile);
let stopping = false;
informer.on('error', (err: unknown) => {
  if (stopping) return; // stop() aborts the watch, which the informer reports as an error
  // client-node's informer stops on an error: restarting it is the loop owner's job.
  console.error(`informer error: ${String(err)}; restarting in 1 s`);
  realClock.setTimer(() => void informer.start(), 1_000);
});
await informer.start();
console.log(`watching ConfigMaps labelled ${LABEL} in ${namespace}`);

const stop = async (): Promise<void> => {
  stopping = true;
  await informer.stop();
  await manager.shutdown({ deadlineMs: 10_000 });
  console.log('stopped');
  process.exit(0);
};
process.once('SIGTERM', () => void stop()).once('SIGINT', () => void stop());
