import { createSupervisedManager } from '/work/main/src/supervisor/index.js';
const N = 200;
for (let trial = 0; trial < 3; trial++) {
  const running = new Set<string>();
  const marks: Record<string, number[]> = { stopping: [], exited: [], stopped: [] };
  let t0 = 0;
  const { manager } = createSupervisedManager({ supervisor: { onEvent: (e) => {
    if (e.type === 'state' && e.to === 'Running') running.add(e.id);
    if (e.type === 'state' && e.to === 'Stopping') marks.stopping!.push(performance.now() - t0);
    if (e.type === 'exited') marks.exited!.push(performance.now() - t0);
    if (e.type === 'state' && e.to === 'Stopped') marks.stopped!.push(performance.now() - t0);
  } }, manager: { resyncIntervalMs: 60_000 } });
  for (let i = 0; i < N; i++) manager.updateProcess({ id: `p${i}`, type: 'create', config: { command: 'sleep', args: ['1000'] } });
  while (running.size < N) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t0 = performance.now();
  await Promise.all([...running].map((id) => manager.terminate(id)));
  const stop = performance.now() - t0;
  const f = (a: number[]) => `${a[0]?.toFixed(1)}..${a.at(-1)?.toFixed(1)}`;
  const T = ((globalThis as any).T ?? []) as Array<[string, number]>; const by: Record<string, number[]> = {}; for (const [k, v] of T) (by[k] ??= []).push(v - t0); (globalThis as any).T = [];
  console.log(Object.fromEntries(Object.entries(by).map(([k, a]) => [k, f(a)])));
  console.log({ stop: stop.toFixed(1), stopping: f(marks.stopping!), exited: f(marks.exited!), stopped: f(marks.stopped!) });
  await manager.shutdown();
}
