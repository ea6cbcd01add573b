// The smallest HTTP service for the daemon benchmark's idle test, run by plain `node` (Node 24
// strips the types): 200 "ok" on every path (the liveness probe asks /healthz) on
// 127.0.0.1:$PORT, and an immediate exit on SIGTERM. It prints nothing, so the daemon's log
// capture stays idle and the benchmark measures probing alone.
import { createServer } from 'node:http';

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
