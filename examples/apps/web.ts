// A tiny HTTP service for examples/procmgr.yaml, run by plain `node` (Node 24 strips the types).
// `/healthz` answers while the process is alive, `/readyz` once it is ready to serve and no longer
// while it drains after SIGTERM.
import { createServer, type ServerResponse } from 'node:http';

const port = Number(process.env.PORT ?? 7081);
let ready = false;
let requests = 0;

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') reply(res, 200, 'ok');
  else if (path === '/readyz') reply(res, ready ? 200 : 503, ready ? 'ready' : 'not ready');
  else reply(res, 200, `hello from pid ${process.pid} (request ${++requests})`);
});

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(`${text}\n`);
}

server.listen(port, '127.0.0.1', () => {
  ready = true;
  console.log(`web: listening on http://127.0.0.1:${port}`);
});

process.once('SIGTERM', () => {
  ready = false;
  console.log('web: SIGTERM, draining');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
