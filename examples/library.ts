import { setTimeout as delay } from 'node:timers/promises';
import { ProcessManager, type ProcessSyncer } from '../src/index.js';

// Your syncer does the real work; the engine decides when to call it (here it only logs).
const syncer: ProcessSyncer<{ cmd: string }> = {
  syncProcess: async ({ id, updateType, config }) => console.log(`${updateType} ${id}: ${config.cmd}`),
  syncTerminating: async ({ id, gracePeriodMs }) => console.log(`stop ${id} within ${gracePeriodMs} ms`),
  syncTerminated: async ({ id }) => console.log(`cleaned up ${id}`),
};
const pm = new ProcessManager({ syncer });
pm.updateProcess({ id: 'web', type: 'create', config: { cmd: 'node server.js' } });
pm.updateProcess({ id: 'jobs', type: 'create', config: { cmd: 'node worker.js' } });
await delay(10); // your controller loop runs on; the workers sync in the background
pm.syncKnownProcesses(['web']); // 'jobs' is no longer desired: terminated now
await pm.terminate('jobs'); // resolves once it is stopped
console.log(pm.list().map((s) => `${s.id}=${s.phase}`).join(' '));
await pm.shutdown();
