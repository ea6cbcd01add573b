import type { ProcessSpec } from '../config/index.js';
import type { SyncResult } from '../core/index.js';
import { canonicalJson, type Clock, type Logger } from '../util/index.js';
import { judgeExit, RestartBook, type RestartCause } from './after-exit.js';
import type { SupervisorEvent } from './events.js';
import type { ExitInfo, ProcessHandle } from './handle.js';
import { move, type Lifecycle, type Wanted } from './lifecycle.js';
import { LogCapture, type LogLine } from './logs/index.js';
import type { OsPort } from './os-port.js';
import { persistRuntime } from './persist.js';
import type { ProbeEvent, ProbeSetStatus } from './probes/index.js';
import { Run, type EndRequest } from './run.js';
import type { ResourceBreach, ResourceUsage } from './resources.js';
import type { BreakerStatus } from './restart-policy.js';
import type { StopProgress } from './signals.js';
import { StateMachine, type RuntimeState, type Transition } from './state-machine.js';
import type { StateStore } from './state-store.js';

/** What a runtime needs from its supervisor. */
export interface RuntimeDeps {
  readonly id: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly store: StateStore | undefined;
  readonly os: OsPort;
  /** Asks the engine to sync this id now (an exit, a failed probe, a breach). */
  readonly requeue: (id: string) => void;
  readonly emit: (e: SupervisorEvent) => void;
  readonly adoptPollMs: number;
  readonly historyLimit: number;
  /** Every captured line, for the supervisor's followers. */
  readonly onLine: (id: string, line: LogLine) => void;
}

/** The last exit, with procmgr's reason when procmgr ended the run. */
export interface LastExit extends ExitInfo {
  readonly pid: number;
  readonly reason: string | undefined;
}

/**
 * One supervised process across its runs, and the only writer of its state: lifecycle, operator
 * intent, current run, counters, restart bookkeeping, log capture. Sync, the supervisor and
 * run-control.ts change it through the intent methods below, one sync call at a time; OS events
 * (exit, probe, breach) only record what happened and requeue, so every decision that acts is
 * made inside a sync call.
 */
export class ProcessRuntime {
  readonly deps: RuntimeDeps;
  readonly #sm: StateMachine;
  readonly #book: RestartBook;
  #phase: Lifecycle = 'recovering';
  #wanted: Wanted = 'policy';
  #spec: ProcessSpec | undefined;
  #hash: string | undefined;
  #run: Run | undefined;
  #logs: LogCapture | undefined;
  #restarts = 0;
  #requestedRestarts = 0;
  /** Set by whoever ends a run (or decides what follows its end); read and cleared by the next start. */
  #restartCause: RestartCause | undefined;
  #lastExit: LastExit | undefined;
  #lastError: Error | undefined;
  #stateError: Error | undefined;
  #hadRun = false;
  #finishedAt: number | undefined;

  constructor(deps: RuntimeDeps) {
    this.deps = deps;
    this.#sm = new StateMachine(deps.clock.now(), deps.historyLimit);
    this.#book = new RestartBook((s) => {
      deps.emit({ type: 'breaker', id: deps.id, state: s.state, openUntil: s.openUntil });
      deps.logger.warn({ process: deps.id, breaker: s.state, openUntil: s.openUntil }, `circuit breaker ${s.state}`);
    });
  }

  get id(): string { return this.deps.id; }
  get phase(): Lifecycle { return this.#phase; }
  get wanted(): Wanted { return this.#wanted; }
  /** Kept stopped by an explicit stop until an explicit start. */
  get disabled(): boolean { return this.#wanted === 'stopped'; }
  /** The run ended and the policy does not restart it: the engine is told `terminal`. */
  get done(): boolean { return this.#phase === 'done'; }
  /** The engine finished this id; only its last status is kept. */
  get finished(): boolean { return this.#finishedAt !== undefined; }
  /** A run has been started (or adopted, or recorded by a previous supervisor): the next start is a restart. */
  get hadRun(): boolean { return this.#hadRun; }
  get running(): boolean { return this.#run?.live ?? false; }
  get spec(): ProcessSpec | undefined { return this.#spec; }
  get hash(): string | undefined { return this.#hash; }
  get handle(): ProcessHandle | undefined { return this.#run?.handle; }
  get logs(): LogCapture | undefined { return this.#logs; }
  /** Restarts after an unexpected end (the kubelet's restartCount). Persisted. */
  get restarts(): number { return this.#restarts; }
  /** Restarts someone asked for. Persisted. */
  get requestedRestarts(): number { return this.#requestedRestarts; }
  get failures(): number { return this.#book.failures; }
  get nextStartAt(): number | undefined { return this.#book.nextStartAt; }
  get lastExit(): LastExit | undefined { return this.#lastExit; }
  get lastError(): Error | undefined { return this.#lastError; }
  /** The last state-file write failed (cleared by one that succeeds); shown as the status's lastError. */
  get stateError(): Error | undefined { return this.#stateError; }
  get endRequest(): EndRequest | undefined { return this.#run?.endRequest; }
  get state(): RuntimeState { return this.#sm.state; }
  get since(): number { return this.#sm.since; }
  get history(): readonly Transition[] { return this.#sm.history; }
  get probeStatus(): ProbeSetStatus | undefined { return this.#run?.probeStatus; }
  get usage(): ResourceUsage | undefined { return this.#run?.usage; }
  breakerStatus(now: number): BreakerStatus | undefined { return this.#book.breakerStatus(now); }
  /** When the next start may happen (restart delay, open breaker). */
  startAllowedAt(now: number): number { return this.#book.allowedAt(now); }
  lines(opts: { tail?: number; since?: number } = {}): LogLine[] { return this.#logs?.lines(opts) ?? []; }

  #setState(to: RuntimeState, reason: string): void {
    const from = this.#sm.state;
    if (from === to) return;
    const at = this.deps.clock.now();
    this.#sm.to(to, at, reason);
    this.deps.emit({ type: 'state', id: this.id, from, to, reason, at });
  }

  #move(to: Lifecycle, why: string): void {
    this.#phase = move(this.#phase, to, why);
  }

  /** An explicit stop (supervisor): stopped by the next sync and kept stopped until `startRequested`. */
  stopRequested(): void {
    this.#wanted = 'stopped';
  }

  /** An explicit start (supervisor): ends a stop, reruns a finished job, waives the restart delay and the breaker. */
  startRequested(): void {
    // A finished job runs again only because of this call (a stopped one: sync's disable says so).
    if (this.#phase === 'done') {
      this.#restartCause = 'requested';
      this.#move('idle', 'start requested');
    }
    this.#wanted = 'policy';
    this.#book.forget('all');
    // An operator's start overrides an open breaker: it gets a fresh one.
    if (this.#spec) this.#book.useSpec(this.#spec.restart, { fresh: true });
  }

  /** An explicit restart (supervisor): the next sync stops the run and starts a new one, with no delay. */
  restartRequested(): void {
    if (this.#wanted !== 'stopped') this.#wanted = 'restart';
    this.#book.forget('delay');
  }

  /** Nothing runs, so a pending restart is answered by the start that follows. */
  restartAnswered(): void {
    if (this.#wanted === 'restart') this.#wanted = 'policy';
  }

  /** Applies a (new) spec's logging and breaker; counters survive. */
  applySpec(spec: ProcessSpec, hash: string): void {
    const old = this.#spec;
    this.#spec = spec;
    this.#hash = hash;
    this.#book.useSpec(spec.restart);
    if (this.#logs && old && canonicalJson(old.logging) === canonicalJson(spec.logging) && old.cwd === spec.cwd) return;
    const previous = this.#logs;
    this.#logs = new LogCapture({ id: this.id, logger: this.deps.logger, clock: this.deps.clock, spec: spec.logging, ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }) });
    this.#logs.subscribe((line) => this.deps.onLine(this.id, line)); // followers outlive one capture
    if (previous) void previous.close().catch((err: unknown) => this.deps.logger.warn({ process: this.id, err }, 'closing the old log file failed'));
  }

  /** A config that does not parse; returns true when it is the same error as last time (said once). */
  specRejected(err: Error): boolean {
    const again = this.#lastError?.message === err.message;
    this.#lastError = err;
    if (!this.running && this.#sm.state !== 'Failed') this.#setState('Failed', err.message);
    return again;
  }

  /** A sync call failed with `err` (shown as the status's lastError). */
  syncFailed(err: Error): void {
    this.#lastError = err;
  }

  /** Why the next start is a restart (see `RestartCause`): said by whoever ends a run. */
  nextStartCause(cause: RestartCause): void {
    this.#restartCause = cause;
  }

  /** The outcome of a state-file write or removal (persist.ts only). */
  stateWritten(err: Error | undefined): void {
    this.#stateError = err;
  }

  /** A start is under way (run-control.ts). */
  starting(reason: string): void {
    this.#setState('Starting', reason);
  }

  /** A start failed: Failed, logged once per distinct error (the engine retries with backoff). */
  startFailed(err: Error): void {
    if (this.#lastError?.message !== err.message) this.deps.logger.error({ process: this.id, err }, 'could not start');
    this.#lastError = err;
    this.#setState('Failed', err.message);
    this.deps.emit({ type: 'spawnFailed', id: this.id, error: err });
  }

  /** A run was spawned: counted under the cause of its restart, then watched. */
  started(handle: ProcessHandle, spec: ProcessSpec): void {
    // Not asked for unless someone said so: a path that forgets to name its cause still shows up
    // where alerts look, rather than hiding a crash among deploys.
    if (this.#hadRun && this.#restartCause === 'requested') this.#requestedRestarts++;
    else if (this.#hadRun) this.#restarts++;
    this.#restartCause = undefined;
    this.attached(handle, spec);
  }

  /** Watches a run: spawned (`started`), reattached, or attached (unmanaged). */
  attached(handle: ProcessHandle, spec: ProcessSpec): void {
    this.#move('running', 'run began');
    this.#lastError = undefined;
    this.#book.runBegan();
    const run: Run = new Run({
      id: this.id,
      spec,
      handle,
      clock: this.deps.clock,
      logger: this.deps.logger,
      sink: {
        probe: (e) => this.#onProbe(run, e),
        check: (c) => this.deps.emit({ type: 'probeCheck', id: this.id, ...c }),
        breach: (b) => this.#onBreach(run, b),
      },
    });
    this.#run = run;
    this.#setState(run.startedUp ? 'Running' : 'Starting', handle.adopted ? 'attached' : 'started');
    this.#hadRun = true;
    handle.exited
      .then(() => this.#onExit(run))
      .catch((err: unknown) => this.deps.logger.error({ process: this.id, err }, 'handling an exit failed'));
  }

  #onExit(run: Run): void {
    if (run !== this.#run || this.#phase === 'stopping') return; // a stopper handles its own exit
    this.noteExit();
    this.deps.requeue(this.id);
  }

  /**
   * Handles the exit of the current run once, whoever sees it first (the exit event, or a sync
   * that got there before the event's promise callback): cleanup, then the restart policy.
   */
  noteExit(): void {
    const run = this.#run;
    if (!run || run.live || !this.#spec) return;
    const reason = run.endRequest?.reason;
    if (this.#phase === 'stopping') {
      // A stop whose wait was aborted: the process went as asked.
      if (!this.#recordExit(run, 'stopped')) return;
      this.#move('idle', 'stopped');
      this.#setState('Stopped', 'stopped');
      return;
    }
    if (!this.#recordExit(run, reason)) return;
    // It exited by itself: what is left of its group goes with it (a stop already saw to that),
    // and with `tree` whatever carries its run mark, found by a scan that may finish after the
    // restart: the new run has a mark of its own.
    const h = run.handle;
    this.deps.os.killLeftovers(h).catch((err: unknown) => this.deps.logger.warn({ process: this.id, pid: h.pid, err }, 'could not look for the descendants of the run that exited'));
    this.followPolicy(reason);
  }

  /** Records how the run ended (once per run): last exit, event, log, healthy-run credit. False when it was already recorded. */
  #recordExit(run: Run, reason: string | undefined): boolean {
    const { handle: h } = run;
    if (!this.#spec || !h.exit || !run.settle()) return false;
    const ranForMs = h.exit.at - h.startedAt;
    this.#lastExit = { ...h.exit, pid: h.pid, reason };
    this.deps.emit({ type: 'exited', id: this.id, pid: h.pid, code: h.exit.code, signal: h.exit.signal, reason, ranForMs });
    this.deps.logger.info({ process: this.id, pid: h.pid, code: h.exit.code, signal: h.exit.signal, reason, ranForMs }, 'exited');
    if (ranForMs >= this.#spec.restart.resetAfter) this.#book.creditHealthy(h.exit.at);
    return true;
  }

  /**
   * What follows the end of the current run that no operator asked for (its own exit, or a
   * probe/limit end with `reason`): Backoff/Stopped with a restart time, or Stopped/Failed for good.
   */
  followPolicy(reason: string | undefined): void {
    const h = this.#run?.handle;
    const spec = this.#spec;
    if (!h?.exit || !spec) return;
    const verdict = judgeExit(spec, { exit: h.exit, startedAt: h.startedAt }, reason);
    this.#restartCause = 'unexpected';
    this.#move(spec.kind === 'managed' && !verdict.restart ? 'done' : 'idle', verdict.how);
    if (!verdict.restart) return this.#setState(verdict.state, verdict.how);
    const waitMs = this.#book.exited(spec.restart, verdict.quick, this.deps.clock.now());
    if (waitMs > 0) {
      this.#setState('Backoff', `${verdict.how}; restarting in ${waitMs}ms`);
      this.deps.emit({ type: 'backoff', id: this.id, delayMs: waitMs, failures: this.#book.failures });
    } else this.#setState('Stopped', `${verdict.how}; restarting now`);
  }

  /** The engine's resync result while a run is up: come back when it becomes healthy. */
  resyncHint(): SyncResult {
    const h = this.#run?.handle;
    if (!h || !this.#spec || this.#book.healthy) return {};
    const now = this.deps.clock.now();
    const ranFor = now - h.startedAt;
    if (ranFor < this.#spec.restart.resetAfter) return { requeueAfterMs: this.#spec.restart.resetAfter - ranFor };
    this.#book.creditHealthy(now);
    return {};
  }

  /** No start yet: the delay or the breaker holds it back. */
  heldBack(): void {
    if (this.#sm.state !== 'Backoff') this.#setState('Backoff', 'waiting for the circuit breaker');
  }

  /** A start is due now (a half-open breaker's trial is announced). */
  startDue(now: number): void {
    this.#book.startDue(now);
  }

  #onProbe(run: Run, e: ProbeEvent): void {
    this.deps.emit({ type: 'probe', id: this.id, probe: e.probe, result: e.result, message: e.message });
    if (e.probe === 'startup' && e.result === 'passed' && this.#sm.state === 'Starting') this.#setState('Running', 'startup probe passed');
    const fatal = e.result === 'failed' && (e.probe === 'liveness' || e.probe === 'startup');
    if (fatal && this.#spec?.kind === 'managed' && run.live) {
      run.requestEnd({ reason: `${e.probe} probe failed: ${e.message}`, kill: false });
      this.deps.requeue(this.id);
    }
  }

  #onBreach(run: Run, b: ResourceBreach): void {
    this.deps.emit({ type: 'resource', id: this.id, resource: b.resource, value: b.value, limit: b.limit, action: b.action });
    if (b.action === 'log' || this.#spec?.kind !== 'managed' || !run.live) return;
    run.requestEnd({ reason: `${b.resource} limit exceeded: ${b.value} > ${b.limit}`, kill: b.action === 'kill' });
    this.deps.requeue(this.id);
  }

  /**
   * procmgr starts ending the current run (run-control.ts): its exit is the stop's. Returns the
   * run, whose stop progress is kept across aborted calls, and the end of its watchers, which go
   * quiet at once.
   */
  stopBegan(reason: string): { run: Run; progress: StopProgress; watchersStopped: Promise<void> } | undefined {
    const run = this.#run;
    if (!run || !this.#spec) return undefined;
    this.#move('stopping', reason);
    if (run.live) this.#setState('Stopping', reason);
    return { run, progress: run.stopProgress, watchersStopped: run.stopWatchers() };
  }

  /** The stop of `run` finished: nothing of it is left. The caller decides what the state becomes. */
  stopEnded(run: Run, reason: string): void {
    if (run !== this.#run || this.#phase !== 'stopping') return; // a later sync already took over
    this.#move('idle', reason);
    this.#recordExit(run, reason);
  }

  /** Stops watching the current run without signalling it (unmanaged, or after a stop) and forgets it. */
  async #detach(why: string): Promise<void> {
    const run = this.#run;
    this.#run = undefined;
    run?.handle.dispose();
    await run?.stopWatchers();
    if (this.#phase === 'running' || this.#phase === 'stopping') this.#move('idle', why);
  }

  /** The explicit stop is done (sync): Disabled. */
  async disabledNow(): Promise<void> {
    await this.#detach('stopped on request');
    this.#setState('Disabled', 'stopped on request');
  }

  /** The run was stopped to be replaced (restart requested, spec changed): the spec applies now, with no delay. */
  async replaced(spec: ProcessSpec, hash: string, why: string): Promise<void> {
    this.restartAnswered();
    await this.#detach(why);
    this.#book.forget('all');
    this.applySpec(spec, hash);
    this.#setState('Stopped', why);
  }

  /** The pid file of an unmanaged process points to another process now. */
  async pidMoved(pid: number): Promise<void> {
    await this.#detach(`pid changed to ${pid}`);
    this.#setState('Stopped', `pid changed to ${pid}`);
  }

  /** An unmanaged process's pid is not running. */
  notRunning(pid: number): void {
    if (this.#sm.state !== 'Stopped' && this.#sm.state !== 'Failed') this.#setState('Stopped', `pid ${pid} is not running`);
  }

  /** The spec changed kind: the old run is gone (stopped or detached); its end decides nothing. */
  async kindSwitched(): Promise<void> {
    await this.#detach('kind changed');
    if (this.#phase === 'done') this.#move('idle', 'kind changed');
    if (this.#sm.state !== 'Stopped' && this.#sm.state !== 'Disabled') this.#setState('Stopped', 'kind changed');
  }

  /** The engine is terminating the id; its run is gone (stopped or detached). */
  async terminated(): Promise<void> {
    await this.#detach('terminated');
    if (this.#sm.state !== 'Disabled' && this.#sm.state !== 'Failed') this.#setState('Stopped', 'terminated');
  }

  /** The engine finished the id (supervisor): only its last status is kept. */
  engineFinished(): void {
    this.#finishedAt ??= this.deps.clock.now();
  }

  /** Counters and an explicit stop read from a previous supervisor's record (sync's recover). */
  restoredCounts(rec: { restarts: number; requestedRestarts: number; disabled: boolean }): void {
    this.#restarts = rec.restarts;
    this.#requestedRestarts = rec.requestedRestarts;
    if (rec.disabled) this.#wanted = 'stopped';
  }

  /** A previous supervisor ran it, so whatever starts next is a restart. */
  ranBefore(): void {
    this.#hadRun = true;
  }

  /** It finished before procmgr restarted, with this spec: done, with the last exit it had. */
  finishedBefore(exit: LastExit, state: RuntimeState): void {
    this.#move('done', 'finished before procmgr restarted');
    this.#lastExit = exit;
    this.#hadRun = true;
    this.#setState(state, 'finished before procmgr restarted');
  }

  /** What a previous supervisor left is settled; from here on a failure is retried as a normal sync. */
  recovered(): void {
    if (this.#phase === 'recovering') this.#move('idle', 'recovered');
  }

  /** Writes the state file (never throws: a failure is logged and kept in `stateError`). */
  persist(): Promise<void> {
    return persistRuntime(this);
  }
}
