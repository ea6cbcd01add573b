import type { ProcessSpec } from '../config/index.js';
import type { Clock, Logger } from '../util/index.js';
import type { SupervisorEvent } from './events.js';
import { adoptProcess, ownChild, type ExitInfo, type ProcessHandle } from './handle.js';
import { LogCapture, type LogLine } from './logs/index.js';
import type { ProbeEvent } from './probes/index.js';
import type { ResourceBreach } from './resources.js';
import { applyPolicy, countRestart, markHealthy, type RestartCause } from './after-exit.js';
import { followSpools, spawnRun } from './output.js';
import { persistRuntime } from './persist.js';
import { CircuitBreaker } from './restart-policy.js';
import { killLeftovers, stopProcess, type StopProgress } from './signals.js';
import { prepareSpawn } from './spawn.js';
import { StateMachine, type RuntimeState } from './state-machine.js';
import type { StateStore } from './state-store.js';
import { RunWatchers } from './watchers.js';

// Awaiting a settled promise costs one microtask; a stop of hundreds of processes awaits this often.
const DONE = Promise.resolve();

/** What a runtime needs from its supervisor. */
export interface RuntimeDeps {
  readonly id: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly store: StateStore | undefined;
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
 * One supervised process across its runs: state machine, current OS process, restart counters,
 * breaker, watchers and log capture. The engine calls it one hook at a time; OS events (exit,
 * probe, breach) only record what happened and requeue, so every decision that acts is made
 * inside a sync call.
 */
export class ProcessRuntime {
  readonly sm: StateMachine;
  spec: ProcessSpec | undefined;
  hash: string | undefined;
  handle: ProcessHandle | undefined;
  watchers: RunWatchers | undefined;
  logs: LogCapture | undefined;
  breaker: CircuitBreaker | undefined;
  /** Quick exits in a row: the restart delay grows with it; a healthy run resets it. */
  failures = 0;
  /** Restarts after an unexpected end (the kubelet's restartCount). Persisted. */
  restarts = 0;
  /** Restarts someone asked for. Persisted. */
  requestedRestarts = 0;
  /** Set by whoever ends a run (or decides what follows its end); read and cleared by the next start. */
  restartCause: RestartCause | undefined;
  nextStartAt: number | undefined;
  lastExit: LastExit | undefined;
  lastError: Error | undefined;
  /** The last state-file write failed (cleared by one that succeeds); shown as the status's lastError. */
  stateError: Error | undefined;
  /** The run ended and the policy does not restart it: the engine is told `terminal`. */
  done = false;
  /** Kept stopped by an explicit stop until an explicit start. */
  disabled = false;
  restartRequested = false;
  /** procmgr wants the current run ended (probe failure or limit breach); `kill` skips the grace. */
  endRequest: { reason: string; kill: boolean } | undefined;
  /** The current run lasted `resetAfter`; counted once per run. */
  healthyRun = false;
  /** The exit of the current run is handled by whoever is stopping it. */
  stopping = false;
  /** The stop of the current run, carried across aborted calls. */
  private stopProgress: StopProgress = { signalledAt: undefined, escaped: [] };
  recovered = false;
  /** A run has been started (or adopted) before: the next start is a restart. */
  hadRun = false;
  /** The engine finished this id; only its last status is kept. */
  finished = false;
  #settled: ProcessHandle | undefined;

  constructor(readonly deps: RuntimeDeps) {
    this.sm = new StateMachine(deps.clock.now(), deps.historyLimit);
  }

  get id(): string {
    return this.deps.id;
  }

  get running(): boolean {
    return this.handle !== undefined && this.handle.exit === undefined;
  }

  setState(to: RuntimeState, reason: string): void {
    const from = this.sm.state;
    if (from === to) return;
    this.sm.to(to, this.deps.clock.now(), reason);
    this.deps.emit({ type: 'state', id: this.id, from, to, reason, at: this.deps.clock.now() });
  }

  /** Applies a (new) spec's logging and breaker; counters survive. */
  adopt(spec: ProcessSpec, hash: string): void {
    const old = this.spec;
    this.spec = spec;
    this.hash = hash;
    if (!old || JSON.stringify(old.restart.breaker) !== JSON.stringify(spec.restart.breaker)) this.breaker = new CircuitBreaker(spec.restart.breaker);
    if (!this.logs || !old || JSON.stringify(old.logging) !== JSON.stringify(spec.logging) || old.cwd !== spec.cwd) {
      const previous = this.logs;
      this.logs = new LogCapture({ id: this.id, logger: this.deps.logger, clock: this.deps.clock, spec: spec.logging, ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }) });
      this.logs.subscribe((line) => this.deps.onLine(this.id, line)); // followers outlive one capture
      if (previous) void previous.close().catch((err: unknown) => this.deps.logger.warn({ process: this.id, err }, 'closing the old log file failed'));
    }
  }

  /** Spawns a new run of a managed spec. A bad spec or spawn failure leaves the runtime in Failed and throws. */
  async start(spec: ProcessSpec, reason: string): Promise<void> {
    this.setState('Starting', reason);
    let handle: ProcessHandle;
    try {
      const plan = await prepareSpawn(spec);
      const { child, spooled } = await spawnRun(plan, this.deps.store, this.id, this.deps.logger);
      handle = ownChild(child, this.deps.clock, { runMark: plan.runMark });
      if (spooled && this.deps.store && this.logs) followSpools(this.deps.store, this.id, { ended: handle.exited, logs: this.logs, resume: false }, this.deps);
      for (const name of ['stdout', 'stderr'] as const) if (child[name]) this.capture(this.logs?.attach(child[name], name));
    } catch (err) {
      // Once per distinct failure: the engine retries with backoff, and the same error each time says nothing new.
      if (this.lastError?.message !== (err as Error).message) this.deps.logger.error({ process: this.id, err }, 'could not start');
      this.lastError = err as Error;
      this.setState('Failed', (err as Error).message);
      this.deps.emit({ type: 'spawnFailed', id: this.id, error: err as Error });
      throw err;
    }
    this.lastError = undefined;
    countRestart(this);
    this.begin(handle, spec);
    if (handle.exit === undefined) await this.persist();
    const counts = { restarts: this.restarts, requestedRestarts: this.requestedRestarts };
    this.deps.emit({ type: 'started', id: this.id, pid: handle.pid, ...counts });
    this.deps.logger.info({ process: this.id, pid: handle.pid, ...counts }, 'started');
  }

  /** Watches a run (spawned or adopted): exit handling, probes, limits. */
  begin(handle: ProcessHandle, spec: ProcessSpec): void {
    this.handle = handle;
    this.stopping = false;
    this.stopProgress = { signalledAt: undefined, escaped: [] };
    this.healthyRun = false;
    this.endRequest = undefined;
    this.done = false;
    this.nextStartAt = undefined;
    this.watchers = new RunWatchers({
      id: this.id,
      spec,
      handle,
      clock: this.deps.clock,
      logger: this.deps.logger,
      sink: {
        probe: (e) => this.onProbe(e),
        check: (c) => this.deps.emit({ type: 'probeCheck', id: this.id, ...c }),
        breach: (b) => this.onBreach(b),
      },
    });
    const how = handle.adopted ? 'attached' : 'started';
    this.setState(this.watchers.started ? 'Running' : 'Starting', how);
    this.hadRun = true;
    handle.exited
      .then(() => this.onExit(handle))
      .catch((err: unknown) => this.deps.logger.error({ process: this.id, err }, 'handling an exit failed'));
  }

  private capture(done: Promise<void> | undefined): void {
    done?.catch((err: unknown) => this.deps.logger.warn({ process: this.id, err }, 'log capture failed'));
  }

  /** Stops the watchers of the current run (awaited so no check outlives it). */
  endWatchers(): Promise<void> {
    const w = this.watchers;
    this.watchers = undefined;
    return w ? w.stop() : DONE;
  }

  private onExit(handle: ProcessHandle): void {
    if (handle !== this.handle || this.stopping) return; // a stopper handles its own exit
    this.noteExit();
    this.deps.requeue(this.id);
  }

  /**
   * Handles the exit of the current run once, whoever sees it first (the exit event, or a sync
   * that got there before the event's promise callback): cleanup, then the restart policy.
   */
  noteExit(): void {
    const h = this.handle;
    if (!h?.exit || this.#settled === h) return;
    if (this.stopping) {
      // A stop whose wait was aborted: the process went as asked.
      this.stopping = false;
      this.recordExit('stopped');
      this.setState('Stopped', 'stopped');
      return;
    }
    // It exited by itself: what is left of its group goes with it (a stop already saw to that),
    // and with `tree` whatever carries its run mark, found by a scan that may finish after the
    // restart: the new run has a mark of its own.
    killLeftovers(h).catch((err: unknown) => this.deps.logger.warn({ process: this.id, pid: h.pid, err }, 'could not look for the descendants of the run that exited'));
    const reason = this.endRequest?.reason;
    this.recordExit(reason);
    applyPolicy(this, reason);
  }

  /** Records how the run ended (once per run): last exit, event, log, healthy-run credit. */
  recordExit(reason: string | undefined): void {
    const h = this.handle;
    if (!h?.exit || !this.spec || this.#settled === h) return;
    this.#settled = h;
    h.dispose();
    void this.endWatchers();
    const ranForMs = h.exit.at - h.startedAt;
    this.lastExit = { ...h.exit, pid: h.pid, reason };
    this.endRequest = undefined;
    this.deps.emit({ type: 'exited', id: this.id, pid: h.pid, code: h.exit.code, signal: h.exit.signal, reason, ranForMs });
    this.deps.logger.info({ process: this.id, pid: h.pid, code: h.exit.code, signal: h.exit.signal, reason, ranForMs }, 'exited');
    if (ranForMs >= this.spec.restart.resetAfter) markHealthy(this, h.exit.at);
  }

  private onProbe(e: ProbeEvent): void {
    this.deps.emit({ type: 'probe', id: this.id, probe: e.probe, result: e.result, message: e.message });
    if (e.probe === 'startup' && e.result === 'passed' && this.sm.state === 'Starting') this.setState('Running', 'startup probe passed');
    const fatal = e.result === 'failed' && (e.probe === 'liveness' || e.probe === 'startup');
    if (fatal && this.spec?.kind === 'managed' && this.running) {
      this.endRequest ??= { reason: `${e.probe} probe failed: ${e.message}`, kill: false };
      this.deps.requeue(this.id);
    }
  }

  private onBreach(b: ResourceBreach): void {
    this.deps.emit({ type: 'resource', id: this.id, resource: b.resource, value: b.value, limit: b.limit, action: b.action });
    if (b.action === 'log' || this.spec?.kind !== 'managed' || !this.running) return;
    this.endRequest ??= { reason: `${b.resource} limit exceeded: ${b.value} > ${b.limit}`, kill: b.action === 'kill' };
    this.deps.requeue(this.id);
  }

  /**
   * Ends the current run on purpose: stop signal → grace → SIGKILL, all through `stopProcess`.
   * Resolves once nothing of the run is left; the caller decides what the state becomes.
   */
  async stopRun(reason: string, opts: { graceMs: number; kill?: boolean; signal?: AbortSignal }): Promise<void> {
    const h = this.handle;
    if (!h || !this.spec) return;
    this.stopping = true;
    if (h.exit === undefined) this.setState('Stopping', reason);
    // The watchers go quiet at once (their in-flight checks are awaited below), so the signal
    // need not wait for them.
    const watchersStopped = this.endWatchers();
    let killed: boolean;
    try {
      // On abort `stopping` stays set: the exit that follows belongs to this stop, not to the policy.
      killed = await stopProcess(h, {
        signal: this.spec.stopSignal,
        tree: this.spec.killMode === 'tree',
        graceMs: opts.graceMs,
        clock: this.deps.clock,
        kill: opts.kill ?? false,
        progress: this.stopProgress,
        ...(opts.signal ? { abort: opts.signal } : {}),
      });
    } finally {
      await watchersStopped;
    }
    this.stopping = false;
    this.recordExit(reason);
    if (killed) this.deps.logger.warn({ process: this.id, pid: h.pid, graceMs: opts.graceMs }, 'did not stop within its grace period: killed');
  }

  /** Adopts a process a previous supervisor started (pid and start time verified by the caller). */
  reattach(spec: ProcessSpec, rec: { pid: number; startTimeTicks: number; startedAt: number | undefined; group: boolean; runMark: string | undefined }): void {
    const handle = adoptProcess(
      { pid: rec.pid, startTimeTicks: rec.startTimeTicks, group: rec.group, startedAt: rec.startedAt ?? this.deps.clock.now(), pollMs: this.deps.adoptPollMs, runMark: rec.runMark },
      this.deps.clock,
    );
    if (this.deps.store && this.logs) followSpools(this.deps.store, this.id, { ended: handle.exited, logs: this.logs, resume: true }, this.deps);
    this.begin(handle, spec);
  }

  /** Writes the state file (never throws: a failure is logged and kept in `stateError`). */
  persist(extra: { disabled?: boolean } = {}): Promise<void> {
    return persistRuntime(this, extra);
  }

  lines(opts: { tail?: number; since?: number } = {}): LogLine[] {
    return this.logs?.lines(opts) ?? [];
  }
}
