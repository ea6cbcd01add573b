import { setImmediate as nextTurn } from 'node:timers/promises';

/** What a row is judged against; rows without one are informational. */
export interface Target {
  readonly op: '<=' | '>=';
  readonly value: number;
}

/** One measured result of a suite. */
export interface Row {
  readonly metric: string;
  readonly n: number;
  readonly value: number;
  readonly unit: string;
  readonly target?: Target;
}

/** True when `value` meets `target` (or there is none). */
export function meets(value: number, target: Target | undefined): boolean {
  if (!target) return true;
  return target.op === '<=' ? value <= target.value : value >= target.value;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const hi = sorted[mid] ?? Number.NaN;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? hi) + hi) / 2;
}

/** A full, synchronous collection (twice, so objects freed by the first pass's finalizers go too). */
export function fullGc(): void {
  const gc = globalThis.gc;
  if (!gc) throw new Error('the benchmark needs --expose-gc (run it through `npm run bench`)');
  gc();
  gc();
}

export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

/**
 * Resolves once `done()` holds, checking it once per event-loop turn (setImmediate, no timers).
 * Gives up after `limitMs` so a broken engine fails the run instead of hanging it.
 */
export async function waitUntil(done: () => boolean, what: string, limitMs = 120_000): Promise<void> {
  const start = performance.now();
  while (!done()) {
    if (performance.now() - start > limitMs) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await nextTurn();
  }
}

/** Progress goes to stderr so stdout carries only the tables. */
export function progress(message: string): void {
  process.stderr.write(`  … ${message}\n`);
}
