// The daemon benchmark's yardstick for HTTP probing, run by plain `node` (Node 24 strips the
// types): one loop per port given as an argument doing what procmgr's HTTP probe does with no
// supervisor around it: GET /healthz on 127.0.0.1 without keep-alive, read the answer, wait
// 1 s after the check, again. SIGUSR2 prints "checks <n> failed <m>" (so far); SIGTERM exits.
import http from 'node:http';
import { setTimeout as wait } from 'node:timers/promises';

let checks = 0;
let failed = 0;

function check(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ method: 'GET', host: '127.0.0.1', port, path: '/healthz', agent: false, headers: { 'user-agent': 'bare-prober' } });
    req.on('error', () => resolve(false));
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        req.destroy();
        resolve(res.statusCode === 200);
      });
    });
    req.end();
  });
}

async function loop(port: number): Promise<never> {
  for (;;) {
    const ok = await check(port);
    checks++;
    if (!ok) failed++;
    await wait(1_000);
  }
}

for (const arg of process.argv.slice(2)) void loop(Number(arg));
process.on('SIGUSR2', () => process.stdout.write(`checks ${checks} failed ${failed}\n`));
process.once('SIGTERM', () => process.exit(0));
