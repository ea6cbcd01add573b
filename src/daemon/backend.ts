import type { ApiBackend, ApplyResult, HealthInfo, ProcessInfo } from '../api/index.js';
import { parseProcessList } from '../config/index.js';
import type { HealthReport, ProcessManager } from '../core/index.js';
import type { LogLine, RuntimeStatus, Supervisor } from '../supervisor/index.js';
import type { ProcessSpecInput } from '../config/index.js';
import { NotFoundError, ProcmgrError, type Clock } from '../util/index.js';
import type { DesiredSet } from './desired-set.js';

export interface DaemonBackendDeps {
  readonly manager: ProcessManager<ProcessSpecInput>;
  readonly supervisor: Supervisor;
  readonly desired: DesiredSet;
  readonly clock: Clock;
  /** Extra `/healthz` details (config source progress, last reload). */
  readonly healthDetails: () => Record<string, unknown>;
  /** The desired set's only source (`ProcessSet ns/name`), when it is not the API's to replace. */
  readonly readOnlySource?: string | undefined;
  /** Why the daemon is not ready whatever its processes say (the sidecar's source not read yet). Default: never. */
  readonly notReadyReason?: (() => string | undefined) | undefined;
}

/**
 * `PUT /v1/processes` on a daemon whose desired set has another owner (the sidecar's ProcessSet):
 * a second source would be undone by the next edit of the first, and the owner's status would claim
 * a set that does not run. Nothing changed; edit the source instead.
 */
export class SourceReadOnlyError extends ProcmgrError<'SOURCE_READ_ONLY'> {
  constructor(source: string) {
    super('SOURCE_READ_ONLY', `the process set comes from ${source} and cannot be replaced through the API: edit ${source} instead (restart, stop and start of one process stay allowed)`, { details: { source } });
  }
}

/** The daemon as the API sees it: engine phase + supervisor status per process, and the desired set. */
export class DaemonBackend implements ApiBackend {
  readonly #d: DaemonBackendDeps;

  constructor(deps: DaemonBackendDeps) {
    this.#d = deps;
  }

  list(): ProcessInfo[] {
    const ids = new Set<string>([...this.#d.desired.entries.keys(), ...this.#d.manager.list().map((s) => s.id)]);
    const out: ProcessInfo[] = [];
    for (const id of [...ids].sort()) {
      const info = this.get(id);
      if (info) out.push(info);
    }
    return out;
  }

  get(id: string): ProcessInfo | undefined {
    const st = this.#d.manager.getStatus(id);
    const entry = this.#d.desired.entries.get(id);
    if (!st && !entry) return undefined;
    const waiting = this.#d.desired.waiting.get(id);
    const rt = this.#d.supervisor.status(id) ?? notStarted(id, this.#d.clock.now(), waiting);
    return {
      ...rt,
      phase: st?.phase ?? 'Starting',
      uptimeMs: rt.startedAt === undefined ? undefined : Math.max(0, this.#d.clock.now() - rt.startedAt),
      readinessProbe: entry?.spec.probes?.readiness !== undefined,
      ...(waiting ? { waitingFor: waiting } : {}),
      ...(entry ? {} : { removed: true as const }),
    };
  }

  apply(processes: unknown): Promise<ApplyResult> {
    if (this.#d.readOnlySource !== undefined) return Promise.reject(new SourceReadOnlyError(this.#d.readOnlySource));
    // Validation throws ConfigError naming every bad path; nothing is applied then.
    return Promise.resolve(this.#d.desired.apply(parseProcessList(processes, 'processes')));
  }

  restart(id: string): Promise<void> {
    this.#known(id);
    if (this.#finished(id)) this.#d.desired.rerun(id);
    else this.#d.supervisor.restart(id);
    return Promise.resolve();
  }

  stop(id: string): Promise<void> {
    this.#known(id);
    return this.#d.supervisor.stop(id);
  }

  start(id: string): Promise<void> {
    this.#known(id);
    // A finished job (or a process the engine gave up on) is not in the engine's hands any more: run it anew.
    if (this.#finished(id)) {
      this.#d.desired.rerun(id);
      return Promise.resolve();
    }
    return this.#d.supervisor.start(id);
  }

  #finished(id: string): boolean {
    return this.#d.manager.getStatus(id)?.phase === 'Finished';
  }

  logs(id: string, opts: { readonly tail?: number }): LogLine[] {
    this.#known(id);
    return this.#d.supervisor.logs(id, opts.tail === undefined ? {} : { tail: opts.tail });
  }

  followLogs(id: string, fn: (line: LogLine) => void, onEnd?: () => void): () => void {
    this.#known(id);
    return this.#d.supervisor.followLogs(id, fn, onEnd);
  }

  notReadyReason(): string | undefined {
    return this.#d.notReadyReason?.();
  }

  health(): HealthInfo {
    const engine = this.#d.manager.health();
    return { ok: engine.state === 'running', details: { engine: engine.state, processes: engine.total, ...this.#d.healthDetails() } };
  }

  engine(): HealthReport {
    return this.#d.manager.health();
  }

  #known(id: string): void {
    if (!this.#d.supervisor.status(id)) {
      const waiting = this.#d.desired.waiting.get(id);
      if (waiting) throw new NotFoundError(`process "${id}" has not started yet: waiting for ${waiting.join(', ')}`, { id, waitingFor: waiting });
      throw new NotFoundError(`no process "${id}"`, { id });
    }
  }
}

/** The status of a desired process the supervisor has not seen yet (waiting for its dependencies). */
function notStarted(id: string, now: number, waitingFor: readonly string[] | undefined): RuntimeStatus {
  return {
    id, kind: undefined, state: 'Stopped', since: now, pid: undefined, startedAt: undefined, adopted: false, restarts: 0, requestedRestarts: 0, failures: 0,
    nextStartAt: undefined, lastExit: undefined, lastError: waitingFor ? `waiting for ${waitingFor.join(', ')}` : undefined,
    ready: false, live: false, probes: undefined, usage: undefined, breaker: undefined, history: [],
  };
}
