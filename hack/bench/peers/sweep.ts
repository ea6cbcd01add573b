import { randomInt, randomUUID } from 'node:crypto';
import { realClock, sleep } from '../../../src/util/index.js';
import { findMarked } from './proc.js';

/**
 * What this run owns, and the sweep that ends all of it. Every daemon is spawned with
 * MARK=TOKEN in its environment (their apps inherit it: PM2, supervisord and procmgr all pass
 * their own environment on), and every app carries the run's tag in its argv, so the sweep finds
 * exactly ours, also after a peer's daemon died without stopping its children.
 */

export const MARK = 'PROCMGR_PEERS_BENCH';
export const TOKEN = randomUUID();
/** Digits unique to this run, the prefix of every app's tag. */
export const RUN = String(randomInt(10_000, 99_999));

const TAG = new RegExp(`^(?:--peers-tag=)?(1${RUN}\\d{4})$`);

/**
 * The tag of app `index` of contender `contender` (0-9): a number, so that it can be `sleep`'s
 * argument (GNU sleep takes ~36 years as well as any other duration).
 */
export function tag(contender: number, index: number): string {
  return `1${RUN}${contender}${String(index).padStart(3, '0')}`;
}

/** The contender index (0-9) in a tag made by `tag`. */
export function contenderOf(t: string): number {
  return Number(t.charAt(t.length - 4));
}

/** The tag in an app's argv (`sleep <tag>` or `node tiny-http.ts --peers-tag=<tag>`), if any. */
export function tagOf(argv: readonly string[]): string | undefined {
  for (let i = 1; i < argv.length; i++) {
    const m = TAG.exec(argv[i] ?? '');
    if (m) return m[1];
  }
  return undefined;
}

/** The environment every process of the run is started with. */
export function markedEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${process.execPath.replace(/\/[^/]+$/, '')}:${process.env.PATH ?? ''}`, [MARK]: TOKEN, ...extra };
}

const cleanups: (() => Promise<void>)[] = [];

/** Runs at the sweep, newest first (stop the daemons politely before killing what is left). */
export function onSweep(fn: () => Promise<void>): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

function killAll(found: readonly number[]): void {
  for (const pid of found) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Everything of this run still alive (not zombies). */
export function leftovers(): number[] {
  return findMarked(`${MARK}=${TOKEN}`, (argv) => tagOf(argv) !== undefined);
}

/** Runs the registered cleanups, then SIGKILLs whatever still carries the mark or a tag. */
export async function sweep(): Promise<number[]> {
  for (const fn of cleanups.splice(0).reverse()) {
    await fn().catch((err: unknown) => console.error('  … cleanup failed:', err));
  }
  let left = leftovers();
  for (let i = 0; i < 3 && left.length > 0; i++) {
    killAll(left);
    await sleep(realClock, 100);
    left = leftovers();
  }
  return left;
}

let installed = false;

/** Ctrl-C or SIGTERM during a run: sweep, then exit as interrupted. */
export function sweepOnSignals(): () => void {
  if (installed) return () => undefined;
  installed = true;
  const handler = (signal: NodeJS.Signals): void => {
    console.error(`\n  … ${signal}: sweeping this run's processes before exiting`);
    sweep().then(
      (left) => {
        if (left.length > 0) console.error(`  … ${left.length} processes survived the sweep: ${left.join(', ')}`);
        process.exit(signal === 'SIGINT' ? 130 : 143);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    installed = false;
  };
}
