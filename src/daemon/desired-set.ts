import type { ApplyResult } from '../api/index.js';
import { ConfigError, type Dependency, type ProcessEntry, type ProcessSpecInput } from '../config/index.js';
import type { ManagerEvent, ProcessManager } from '../core/index.js';
import type { RuntimeStatus } from '../supervisor/index.js';
import { canonicalJson, isProcmgrError, ShutdownError, type Clock, type Logger } from '../util/index.js';

/** While events keep coming, at most one reconcile per this many ms. */
const COALESCE_MS = 100;

export interface DesiredSetDeps {
  readonly manager: ProcessManager<ProcessSpecInput>;
  readonly status: (id: string) => RuntimeStatus | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The engine's `maxProcesses`: a larger set is refused whole instead of failing half-way. Default: no limit. */
  readonly capacity?: number;
}

/**
 * The daemon's desired processes and what the engine has been told of them. `apply` replaces the
 * set; `reconcile` (run after every apply and after the events that can change its outcome) declares what may
 * start, updates what changed and, through `syncKnownProcesses`, stops what is gone. Only a changed
 * spec reaches the engine as an update, so a reload restarts exactly the processes that changed.
 *
 * `dependsOn` gates the first start only: a process is declared once each dependency meets its
 * condition (`started`, `ready`, or `completed`: exited 0 and done, a job). Later restarts of a
 * dependency do not stop its dependents (as in compose).
 */
export class DesiredSet {
  readonly #deps: DesiredSetDeps;
  #entries = new Map<string, ProcessEntry>();
  /** id → canonical text of the desired spec, computed once per apply (reconcile runs on every state change). */
  #keys = new Map<string, string>();
  /** id → spec key the engine was given. */
  readonly #declared = new Map<string, string>();
  #waiting = new Map<string, string[]>();
  /** Ids whose create found no free slot yet (logged once each). */
  readonly #noSlot = new Set<string>();
  #reconcileQueued = false;
  #lastReconcileAt: number | undefined;

  constructor(deps: DesiredSetDeps) {
    this.#deps = deps;
  }

  get entries(): ReadonlyMap<string, ProcessEntry> {
    return this.#entries;
  }

  /** Dependencies each not-yet-started process still waits for. */
  get waiting(): ReadonlyMap<string, readonly string[]> {
    return this.#waiting;
  }

  /**
   * Replaces the desired set (already validated) and reconciles. Refuses a set beyond the engine's
   * capacity (ConfigError) and any change once the engine is shutting down (its ShutdownError),
   * before anything changes.
   */
  apply(entries: readonly ProcessEntry[]): ApplyResult {
    const { capacity } = this.#deps;
    if (capacity !== undefined && entries.length > capacity) {
      throw new ConfigError('process list', [{ path: 'processes', message: `expected at most ${capacity} processes (processManager.engine.maxProcesses), got ${entries.length}` }]);
    }
    const state = this.#deps.manager.state;
    if (state !== 'running') throw new ShutdownError(`procmgr is ${state}: the process set cannot change now`);
    const next = new Map(entries.map((e) => [e.id, e]));
    const result = { created: [] as string[], updated: [] as string[], removed: [] as string[], unchanged: [] as string[] };
    for (const e of entries) {
      const old = this.#entries.get(e.id);
      if (!old) result.created.push(e.id);
      else if (canonicalJson(old) === canonicalJson(e)) result.unchanged.push(e.id);
      else result.updated.push(e.id);
    }
    for (const id of this.#entries.keys()) {
      if (next.has(id)) continue;
      result.removed.push(id);
      // Forgotten at once: if the id comes back while it is still stopping, it is created anew afterwards.
      this.#declared.delete(id);
    }
    this.#entries = next;
    this.#keys = new Map(entries.map((e) => [e.id, canonicalJson(e.spec)]));
    this.reconcile();
    return result;
  }

  reconcile(): void {
    const { manager } = this.#deps;
    if (manager.state !== 'running') return;
    this.#lastReconcileAt = this.#deps.clock.now();
    // A finished id whose spec changed (or that is no longer wanted) is removed, so it can be created again.
    for (const [id, key] of this.#declared) {
      if (key !== this.#keys.get(id) && manager.isFinished(id)) this.#declared.delete(id);
    }
    manager.syncKnownProcesses([...this.#declared.keys()]);
    const waiting = new Map<string, string[]>();
    for (const e of this.#entries.values()) {
      const key = this.#keys.get(e.id) ?? canonicalJson(e.spec);
      const phase = manager.phase(e.id);
      if (phase === 'Terminating' || phase === 'Terminated') continue; // back once it has finished
      if (phase === undefined) {
        const missing = e.dependsOn.filter((d) => !this.#satisfied(d)).map((d) => d.id);
        if (missing.length > 0) {
          waiting.set(e.id, missing);
          continue;
        }
        if (!this.#create(e)) continue;
      } else if (this.#declared.get(e.id) !== key) {
        manager.updateProcess({ id: e.id, type: 'update', config: e.spec });
      } else continue;
      this.#declared.set(e.id, key);
    }
    for (const [id, missing] of waiting) {
      if (this.#waiting.get(id)?.join() !== missing.join()) this.#deps.logger.info({ process: id, waitingFor: missing }, 'waiting for dependencies');
    }
    this.#waiting = waiting;
  }

  /**
   * Creates `e` in the engine; false when it has no slot yet: processes being removed still hold
   * theirs until they finish, and the next reconcile (on their removal) tries again. So a set
   * within capacity never fails half-applied.
   */
  #create(e: ProcessEntry): boolean {
    try {
      this.#deps.manager.updateProcess({ id: e.id, type: 'create', config: e.spec });
      this.#noSlot.delete(e.id);
      return true;
    } catch (err) {
      if (!isProcmgrError(err) || err.code !== 'QUEUE_FULL') throw err;
      if (!this.#noSlot.has(e.id)) this.#deps.logger.info({ process: e.id }, 'waiting for a slot: processes being removed still hold theirs');
      this.#noSlot.add(e.id);
      return false;
    }
  }

  /**
   * An engine event, as the daemon forwards them all. Only an id reaching Finished (to be removed,
   * created again, or a dependency completed) or removed (a slot freed) can change what `reconcile`
   * does; a reconcile visits every process, so one per event made starting N processes O(N²).
   */
  onManagerEvent(e: ManagerEvent): void {
    if ((e.type === 'phase' && e.to === 'Finished') || e.type === 'removed') this.reconcileSoon();
  }

  /** A process's runtime state or probe changed: that can only satisfy a dependency, so it matters while one is awaited. */
  onRuntimeChange(): void {
    if (this.#waiting.size > 0) this.reconcileSoon();
  }

  /**
   * `reconcile` soon, once however often it is asked meanwhile: at once (after the current call
   * stack) when the last one is COALESCE_MS old, else when it will be. Events come in bursts, one
   * exit or state change at a time, and each reconcile visits every process, so one per event
   * made stopping N processes O(N²). A throw is logged, not raised (the supervision of every
   * process must not fail with it); the next event retries.
   */
  reconcileSoon(): void {
    if (this.#reconcileQueued) return;
    this.#reconcileQueued = true;
    const run = (): void => {
      this.#reconcileQueued = false;
      try {
        this.reconcile();
      } catch (err) {
        this.#deps.logger.error({ err }, 'reconciling the desired set failed');
      }
    };
    const { clock } = this.#deps;
    const wait = this.#lastReconcileAt === undefined ? 0 : this.#lastReconcileAt + COALESCE_MS - clock.now();
    if (wait > 0) clock.setTimer(run, wait);
    else queueMicrotask(run);
  }

  /** Runs a Finished process again (an explicit start or restart of a job that is done): removed, then created anew. */
  rerun(id: string): void {
    if (this.#deps.manager.getStatus(id)?.phase !== 'Finished' || !this.#entries.has(id)) return;
    this.#declared.delete(id);
    this.reconcile();
  }

  #satisfied(dep: Dependency): boolean {
    const st = this.#deps.status(dep.id);
    if (!st) return false;
    switch (dep.condition) {
      case 'started':
        return st.state === 'Running' || st.state === 'Starting';
      case 'ready':
        return st.ready;
      case 'completed':
        return st.lastExit?.code === 0 && this.#deps.manager.getStatus(dep.id)?.phase === 'Finished';
    }
  }
}
