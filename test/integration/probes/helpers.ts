import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import type { ProbeSpec } from '../../../src/config/index.js';
import type { ProbeTarget } from '../../../src/supervisor/probes/index.js';
import { eventually } from '../../helpers/eventually.js';

/** Polls `predicate` until it holds; fails the test after `timeoutMs` (generous: CI machines are slow). */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  await eventually(what, predicate, timeoutMs, 20);
}

/** Listens on an ephemeral port of 127.0.0.1 and returns it. */
export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes a server that may still hold connections (http servers drop theirs first). */
export async function close(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  if (!server.listening) return;
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A port nothing listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  const port = await listen(server);
  await close(server);
  return port;
}

/** The test process's own env (it carries the leak mark), so children of exec probes are tracked. */
export function ownTarget(extra: Record<string, string> = {}, cwd?: string): ProbeTarget {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { env: { ...env, ...extra }, cwd };
}

/** A probe spec with short timings; `kind` supplies exactly one of http, tcp, exec, grpc. */
export function spec(kind: Partial<Pick<ProbeSpec, 'http' | 'tcp' | 'exec' | 'grpc'>>, timing: Partial<ProbeSpec> = {}): ProbeSpec {
  return { initialDelay: 0, interval: 50, timeout: 2_000, failureThreshold: 1, successThreshold: 1, ...kind, ...timing };
}

/** Pids of live processes whose argv is exactly `argv` (zombies have an empty cmdline). */
export function pidsRunning(argv: readonly string[]): number[] {
  const needle = `${argv.join('\0')}\0`;
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8') === needle) found.push(Number(name));
    } catch {
      // exited between readdir and read
    }
  }
  return found;
}
