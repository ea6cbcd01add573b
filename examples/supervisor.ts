import { createSupervisedManager, realClock, sleep } from '../src/index.js';

// Real processes: a web server that must answer /healthz, and a job that crashes and is restarted
// with a growing delay until its circuit breaker opens.
const { manager, supervisor } = createSupervisedManager();
manager.updateProcess({
  id: 'web',
  type: 'create',
  config: {
    command: process.execPath,
    args: ['-e', "require('http').createServer((q, s) => s.end('ok')).listen(8099, '127.0.0.1')"],
    probes: { readiness: { http: { port: 8099, path: '/healthz' }, interval: '200ms' } },
  },
});
manager.updateProcess({
  id: 'flaky',
  type: 'create',
  config: {
    command: 'sh', args: ['-c', 'echo working; exit 1'],
    restart: { policy: 'on-failure', delay: '100ms', multiplier: 2, breaker: { maxFailures: 4, window: '10s', cooldown: '1m' } },
  },
});
await sleep(realClock, 2_000);
for (const s of supervisor.list()) {
  const exit = s.lastExit ? `last exit ${s.lastExit.code ?? s.lastExit.signal}` : '';
  console.log(`${s.id.padEnd(6)} ${s.state.padEnd(8)} pid=${String(s.pid ?? '-').padEnd(6)} ready=${s.ready} restarts=${s.restarts} breaker=${s.breaker?.state} ${exit}`);
}
console.log('flaky output:', supervisor.logs('flaky').map((l) => l.line).join(', '));
await manager.shutdown();
