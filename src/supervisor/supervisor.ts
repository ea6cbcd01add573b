import { parseProcessSpec, type ConfigError, type ProcessSpec, type ProcessSpecInput } from '../config/index.js';
import type { ProcessSyncer, SyncContext, SyncResult, TerminatingContext } from '../core/index.js';
import { NotFoundError, realClock, silentLogger, type Clock, type Logger } from '../util/index.js';
import type { SupervisorEvent } from './events.js';
import type { LogLine } from './logs/index.js';
import { ProcessRuntime } from './runtime.js';
import { statusOf, type RuntimeStatus } from './status.js';
import { StateStore, configHash } from './state-store.js';
import { recover, switchKind, syncManaged, syncUnmanaged, terminate } from './sync.js';
import { reconcileStateDir } from './orphans.js';
import { removeSpools } from './output.js';
import { realOs, type OsPort } from './os-port.js';
import { unrecord } from './persist.js';
import { stopRun } from './run-control.js';

/** Options of `new Supervisor`. Every field has a default. */
export interface SupervisorOptions {
  readonly clock?: Clock;
  /** pino (or compatible); every line carries `process`. Default: silent. */
  readonly logger?: Logger;
  /** Where per-process state files live, for reattach after a restart. Default: none (no reattach). */
  readonly stateDir?: string;
  /** How often a process that is not our child (reattached, unmanaged) is checked for exit. Default 500 ms. */
  readonly adoptPollMs?: number;
  /** Transitions kept per process. Default 50. */
  readonly historyLimit?: number;
  /** Called for every supervisor event; must not throw (a throw is logged and ignored). */
  readonly onEvent?: (e: SupervisorEvent) => void;
  /** What spawns, signals and reads OS processes (a recording fake in unit tests). Default: the real OS. */
  readonly os?: OsPort;
}

/**
 * The OS-process syncer: makes the engine run real programs. Pass it to `ProcessManager` as the
 * syncer and connect `requeue` to `manager.updateProcess({ id, type: 'sync' })` (or use
 * `createSupervisedManager`, which does both). Configs are `ProcessSpecInput`s, parsed here.
 */
export class Supervisor implements ProcessSyncer<ProcessSpecInput> {
  readonly #runtimes = new Map<string, ProcessRuntime>();
  readonly #followers = new Map<string, Set<{ readonly line: (l: LogLine) => void; readonly end: (() => void) | undefined }>>();
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #store: StateStore | undefined;
  readonly #options: SupervisorOptions;
  #requeue: (id: string) => void = () => undefined;
  // Configs are immutable (the engine keeps them as given), so one parse per config object is enough.
  readonly #parsed = new WeakMap<object, ProcessSpec>();

  constructor(options: SupervisorOptions = {}) {
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#logger = options.logger ?? silentLogger;
    this.#store = options.stateDir === undefined ? undefined : new StateStore(options.stateDir);
  }

  /** Connects exits, probe failures and breaches to the engine: `fn(id)` must schedule a sync of `id` now. */
  setRequeue(fn: (id: string) => void): void {
    this.#requeue = fn;
  }

  /** The engine's grace period for a config: its `stopGracePeriod` (undefined when the config is invalid). */
  gracePeriodFor(config: ProcessSpecInput): number | undefined {
    try {
      return this.parse(config).stopGracePeriod;
    } catch {
      return undefined;
    }
  }

  private parse(config: ProcessSpecInput): ProcessSpec {
    const isObject = typeof config === 'object' && config !== null;
    const hit = isObject ? this.#parsed.get(config) : undefined;
    if (hit) return hit;
    const spec = parseProcessSpec(config);
    if (isObject) this.#parsed.set(config, spec);
    return spec;
  }

  private runtime(id: string): ProcessRuntime {
    let rt = this.#runtimes.get(id);
    if (!rt || rt.finished) {
      rt = new ProcessRuntime({
        id,
        clock: this.#clock,
        logger: this.#logger,
        store: this.#store,
        os: this.#options.os ?? realOs,
        requeue: (i) => this.#requeue(i),
        emit: (e) => this.emit(e),
        adoptPollMs: this.#options.adoptPollMs ?? 500,
        historyLimit: this.#options.historyLimit ?? 50,
        onLine: (i, line) => {
          for (const f of this.#followers.get(i) ?? []) f.line(line);
        },
      });
      this.#runtimes.set(id, rt);
    }
    return rt;
  }

  private emit(e: SupervisorEvent): void {
    try {
      this.#options.onEvent?.(e);
    } catch (err) {
      this.#logger.error({ process: e.id, err }, 'onEvent threw');
    }
  }

  /** Engine hook. A bad spec fails this process only; a running process keeps its last good spec. */
  async syncProcess(ctx: SyncContext<ProcessSpecInput>): Promise<SyncResult> {
    const rt = this.runtime(ctx.id);
    let spec: ProcessSpec;
    try {
      spec = this.parse(ctx.config);
    } catch (err) {
      const again = rt.specRejected(err as ConfigError); // retried with backoff: said once
      if (!again) this.#logger.error({ process: ctx.id, err }, rt.running ? 'invalid spec: keeping the running process on its last good spec' : 'invalid spec');
      throw err;
    }
    const hash = configHash(spec);
    try {
      if (rt.phase === 'recovering') await recover(rt, spec, hash, ctx.signal);
      if (rt.spec && rt.spec.kind !== spec.kind) await switchKind(rt, ctx.signal);
      const result = await (spec.kind === 'managed' ? syncManaged(rt, spec, hash, ctx.signal) : syncUnmanaged(rt, spec, hash, ctx.signal));
      if (rt.stateError) await rt.persist(); // a failed state write is retried by every sync until one succeeds
      return result;
    } catch (err) {
      rt.syncFailed(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  /** Engine hook: stop signal → grace (the engine's effective grace) → SIGKILL. Unmanaged: detach only. */
  async syncTerminating(ctx: TerminatingContext<ProcessSpecInput>): Promise<void> {
    const rt = this.#runtimes.get(ctx.id);
    if (rt) await terminate(rt, ctx.gracePeriodMs, ctx.signal);
  }

  /**
   * Engine hook: releases the log file. The final status (last exit, recent lines) stays readable
   * until the id is created again or `forget` drops it.
   */
  async syncTerminated(ctx: SyncContext<ProcessSpecInput>): Promise<void> {
    const rt = this.#runtimes.get(ctx.id);
    if (!rt) return;
    await rt.logs?.close();
    if (this.#store) removeSpools(this.#store, ctx.id, this.#logger);
    rt.engineFinished();
    this.#endFollowers(ctx.id);
  }

  /**
   * At startup, before the first process is declared: stops what a previous supervisor left
   * running for ids not in `desired` and removes their state files (see `reconcileStateDir`).
   * Resolves with the ids cleaned; without a state dir there is nothing to do.
   */
  async reconcileStateDir(desired: Iterable<string>, signal?: AbortSignal): Promise<string[]> {
    if (!this.#store) return [];
    const deps = { clock: this.#clock, logger: this.#logger, emit: (e: SupervisorEvent) => this.emit(e), adoptPollMs: this.#options.adoptPollMs ?? 500 };
    return reconcileStateDir(this.#store, new Set(desired), deps, signal);
  }

  /**
   * The last resort after a forced shutdown, when the engine has abandoned its calls and nobody
   * will finish their stops: SIGKILL every managed process still running (its group and escaped
   * descendants) and wait until they are gone. Unmanaged processes are left alone. Returns the ids killed.
   */
  async killAll(): Promise<string[]> {
    const targets = [...this.#runtimes.values()].filter((rt) => rt.running && rt.spec?.kind === 'managed');
    await Promise.all(targets.map((rt) => stopRun(rt, 'killed at shutdown', { graceMs: 0, kill: true })));
    return targets.map((rt) => rt.id).sort();
  }

  /**
   * Drops what is kept of a finished process (the daemon calls it when the engine removes the id).
   * A finished job's record goes too: created again (an explicit rerun, a changed spec, back in
   * the config), it runs anew. The store keeps the order, so that create's read comes after.
   */
  forget(id: string): void {
    const rt = this.#runtimes.get(id);
    if (!rt?.finished) return;
    this.#runtimes.delete(id);
    this.#endFollowers(id);
    if (rt.done) void unrecord(rt);
  }

  /** A snapshot for `status`, the API and metrics; undefined for an unknown id. */
  status(id: string): RuntimeStatus | undefined {
    const rt = this.#runtimes.get(id);
    return rt && statusOf(rt, this.#clock.now());
  }

  list(): RuntimeStatus[] {
    const now = this.#clock.now();
    return [...this.#runtimes.values()].map((rt) => statusOf(rt, now));
  }

  /** Recent output lines of `id` (oldest first). */
  logs(id: string, opts: { tail?: number; since?: number } = {}): LogLine[] {
    return this.#runtimes.get(id)?.lines(opts) ?? [];
  }

  /**
   * Follows the output of `id` across restarts (and a log capture replaced by a new spec); returns
   * the unsubscribe function. `onEnd` is called once no more lines can come: the process finished
   * (terminated) or was forgotten.
   */
  followLogs(id: string, fn: (line: LogLine) => void, onEnd?: () => void): () => void {
    this.known(id);
    const follower = { line: fn, end: onEnd };
    let set = this.#followers.get(id);
    if (!set) this.#followers.set(id, (set = new Set()));
    set.add(follower);
    return () => void set.delete(follower);
  }

  #endFollowers(id: string): void {
    const set = this.#followers.get(id);
    this.#followers.delete(id);
    for (const f of set ?? []) {
      try {
        f.end?.();
      } catch (err) {
        this.#logger.warn({ process: id, err }, 'a log follower failed to end');
      }
    }
  }

  /** Explicit stop: the process is stopped and kept stopped (Disabled) until `start`. Persisted for `unless-stopped`. */
  async stop(id: string): Promise<void> {
    const rt = this.known(id);
    rt.stopRequested();
    await rt.persist();
    this.#requeue(id);
  }

  /** Explicit start after `stop` (also closes the breaker's wait and restart delay). */
  async start(id: string): Promise<void> {
    const rt = this.known(id);
    rt.startRequested();
    await rt.persist();
    this.#requeue(id);
  }

  /**
   * Explicit restart: stop (with the grace period) and start again, not counted as a failure and
   * counted in `requestedRestarts`, not `restarts`.
   */
  restart(id: string): void {
    const rt = this.known(id);
    rt.restartRequested();
    this.#requeue(id);
  }

  private known(id: string): ProcessRuntime {
    const rt = this.#runtimes.get(id);
    if (!rt) throw new NotFoundError(`no process "${id}"`, { id });
    return rt;
  }
}
