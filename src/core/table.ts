import type { ProcessRecord } from './record.js';

/**
 * The engine's table of records: every known id, how many are still live (not Finished), and
 * the Finished ones in the order they finished, so that records nobody asks about cannot pile
 * up: past `maxFinished`, the first to finish goes (as `syncKnownProcesses` would remove it),
 * except one with a restart requested, which is wanted again.
 *
 * Internal: owned by the Engine; others read it through `Engine.processes`.
 */
export class ProcessTable<C> {
  readonly #records = new Map<string, ProcessRecord<C>>();
  /** Finished records, oldest finish first. */
  readonly #finished = new Set<ProcessRecord<C>>();
  readonly #maxFinished: number;
  #live = 0;

  constructor(maxFinished: number) {
    this.#maxFinished = maxFinished;
  }

  /** Every record by id, in creation order. */
  get records(): ReadonlyMap<string, ProcessRecord<C>> {
    return this.#records;
  }

  /** Records not yet Finished. */
  get live(): number {
    return this.#live;
  }

  add(rec: ProcessRecord<C>): void {
    this.#records.set(rec.id, rec);
    this.#live++;
  }

  /** Counts `rec` as Finished; returns a record to remove if too many Finished ones are kept. */
  finished(rec: ProcessRecord<C>): ProcessRecord<C> | undefined {
    this.#live--;
    this.#finished.add(rec);
    if (this.#finished.size <= this.#maxFinished) return undefined;
    for (const old of this.#finished) if (!old.restart) return old;
    return undefined;
  }

  delete(rec: ProcessRecord<C>): void {
    this.#records.delete(rec.id);
    this.#finished.delete(rec);
  }
}
