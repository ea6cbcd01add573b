import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Leak detection for the integration tiers. Every process a test starts inherits
 * `PROCMGR_TEST_MARK` (set per test file by `setup-leaks.ts`), and so do its grandchildren, even
 * after they are re-parented to init. A live process carrying this file's mark after cleanup is a leak.
 */
export const MARK_VAR = 'PROCMGR_TEST_MARK';

/** The mark of this test file, set on first use. */
export function testMark(): string {
  return (process.env[MARK_VAR] ??= randomUUID());
}

/** Pids of live (not zombie) processes that carry `mark` in their environment, this process excluded. */
export function markedPids(mark = testMark()): number[] {
  const needle = `${MARK_VAR}=${mark}`;
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(needle)) found.push(pid);
    } catch {
      // gone between readdir and read, or not ours to read
    }
  }
  return found;
}

/** Kills whatever is left (so one leak does not cascade) and returns what was found. */
export function reapLeaks(mark = testMark()): number[] {
  const pids = markedPids(mark);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}

/** SIGKILLs the process group of each child (spawned with `detached: true`) and waits for its exit. */
export async function killChildGroups(children: ChildProcess[]): Promise<void> {
  for (const child of children.splice(0)) {
    const gone = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // group already gone
    }
    await gone;
  }
}
