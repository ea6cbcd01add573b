import { fileURLToPath } from 'node:url';

/**
 * What every contender of the peers benchmark offers: a daemon brought up the way its users do,
 * and its own way to start and stop a set of apps. The workloads (workloads.ts) judge the effect
 * from /proc alone, never from what a contender reports.
 */

export const TINY_HTTP = fileURLToPath(new URL('../apps/tiny-http.ts', import.meta.url));

/** One app to run: a command with its tag in argv; `port` for a tiny HTTP server to probe. */
export interface App {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** A 1 s HTTP liveness probe of GET /healthz on this port (only contenders with probes). */
  readonly probePort?: number;
}

/** One app's liveness checks so far. */
export interface ProbeCount {
  /** Checks finished, passed or failed. */
  readonly checks: number;
  /** Passes since the last failed check (all of them while none failed). */
  readonly passedInARow: number;
}

export interface Contender {
  /** As it appears in the table ("pm2", "procmgr@375547f"). */
  readonly name: string;
  /** True when the contender can probe its apps over HTTP. */
  readonly probes: boolean;
  /** Starts the daemon; resolves with the ms from its spawn to its control interface answering. */
  boot(): Promise<number>;
  /** The pid whose tree (minus the apps) is the daemon's cost. */
  daemonPid(): number;
  /** Asks for `apps` to run, restarted at once after any exit; resolves when the request is accepted. */
  startApps(apps: readonly App[]): Promise<void>;
  /** Asks for every app to stop (SIGTERM); resolves when the request is accepted. */
  stopApps(): Promise<void>;
  /** Forgets the stopped apps, so the next workload starts from an empty set (not measured). */
  clear(): Promise<void>;
  /** Each probed app's liveness checks so far, by app name (contenders with `probes`). */
  probeCounts?(): Promise<ReadonlyMap<string, ProbeCount>>;
  /** Stops the daemon and whatever it still runs. */
  shutdown(): Promise<void>;
}

/** `count` sleeps tagged by `tagFor(i)`. */
export function sleeps(count: number, tagFor: (i: number) => string): App[] {
  return Array.from({ length: count }, (_, i) => ({ name: `sleep-${String(i).padStart(3, '0')}`, command: 'sleep', args: [tagFor(i)] }));
}

/** Tiny HTTP servers on `ports`, run by this Node, each with its probe port. */
export function servers(ports: readonly number[], tagFor: (i: number) => string): App[] {
  return ports.map((port, i) => ({
    name: `http-${String(i).padStart(3, '0')}`,
    command: process.execPath,
    args: [TINY_HTTP, `--peers-tag=${tagFor(i)}`],
    env: { PORT: String(port) },
    probePort: port,
  }));
}
