import type { ApiBackend, ApplyResult, HealthInfo, ProcessInfo } from '../../../src/api/index.js';
import { ConfigError } from '../../../src/config/index.js';
import type { HealthReport } from '../../../src/core/index.js';
import type { LogLine } from '../../../src/supervisor/index.js';
import { NotFoundError, ShutdownError } from '../../../src/util/index.js';

/** A `ProcessInfo` with plausible defaults: a running, ready managed process. */
export function info(id: string, over: Partial<ProcessInfo> = {}): ProcessInfo {
  return {
    id,
    kind: 'managed',
    state: 'Running',
    since: 1_000,
    pid: 4242,
    startedAt: 1_000,
    adopted: false,
    restarts: 0,
    requestedRestarts: 0,
    failures: 0,
    nextStartAt: undefined,
    lastExit: undefined,
    lastError: undefined,
    ready: true,
    live: true,
    probes: undefined,
    usage: undefined,
    breaker: undefined,
    history: [],
    phase: 'Syncing',
    uptimeMs: 5_000,
    readinessProbe: false,
    ...over,
  };
}

/** A recording `ApiBackend`: tests set its state and read what the API asked of it. */
export class FakeBackend implements ApiBackend {
  readonly processes = new Map<string, ProcessInfo>();
  readonly lines = new Map<string, LogLine[]>();
  readonly followers = new Map<string, Set<(line: LogLine) => void>>();
  /** Every mutation the API passed through, in order. */
  readonly calls: string[] = [];
  readonly applied: unknown[] = [];
  healthInfo: HealthInfo = { ok: true, details: { engine: 'running' } };
  report: HealthReport = {
    healthy: true,
    state: 'running',
    total: 0,
    byPhase: { Starting: 0, Syncing: 0, Terminating: 0, Terminated: 0, Finished: 0 },
    unhealthy: 0,
    inFlight: 1,
    queueDepth: 3,
  };
  shuttingDown = false;
  /** When set, actions wait for it before returning (a slow backend). */
  gate: Promise<void> | undefined;
  /** Thrown by `list()` when set (to provoke a 500). */
  listError: Error | undefined;
  private seq = 0;

  constructor(...processes: ProcessInfo[]) {
    for (const p of processes) this.processes.set(p.id, p);
  }

  list(): ProcessInfo[] {
    if (this.listError !== undefined) throw this.listError;
    return [...this.processes.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): ProcessInfo | undefined {
    return this.processes.get(id);
  }

  async apply(processes: unknown): Promise<ApplyResult> {
    this.guard();
    const list = processes as unknown[];
    const problems = list.flatMap((p, i) =>
      typeof (p as { id?: unknown } | null)?.id === 'string' ? [] : [{ path: `processes[${i}].id`, message: 'expected a string' }],
    );
    if (problems.length > 0) throw new ConfigError('process list', problems);
    this.applied.push(processes);
    this.calls.push('apply');
    const ids = list.map((p) => (p as { id: string }).id);
    return { created: ids.filter((id) => !this.processes.has(id)), updated: [], removed: [], unchanged: ids.filter((id) => this.processes.has(id)) };
  }

  async restart(id: string): Promise<void> {
    this.action('restart', id);
    await this.gate;
  }

  async stop(id: string): Promise<void> {
    this.action('stop', id);
    await this.gate;
  }

  async start(id: string): Promise<void> {
    this.action('start', id);
    await this.gate;
  }

  logs(id: string, opts: { readonly tail?: number }): LogLine[] {
    const all = this.lines.get(id) ?? [];
    return opts.tail === undefined ? [...all] : all.slice(Math.max(0, all.length - opts.tail));
  }

  followLogs(id: string, fn: (line: LogLine) => void): () => void {
    let set = this.followers.get(id);
    if (!set) this.followers.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  /** Appends a line and delivers it to followers, as the supervisor's log capture would. */
  emitLine(id: string, text: string, stream: LogLine['stream'] = 'stdout'): LogLine {
    const line: LogLine = { seq: this.seq++, at: 1_700_000_000_000 + this.seq, stream, line: text };
    let all = this.lines.get(id);
    if (!all) this.lines.set(id, (all = []));
    all.push(line);
    for (const fn of this.followers.get(id) ?? []) fn(line);
    return line;
  }

  followerCount(id: string): number {
    return this.followers.get(id)?.size ?? 0;
  }

  /** What `notReadyReason()` answers (the sidecar's gate). */
  gateReason: string | undefined;

  notReadyReason(): string | undefined {
    return this.gateReason;
  }

  health(): HealthInfo {
    return this.healthInfo;
  }

  engine(): HealthReport {
    return this.report;
  }

  private action(name: string, id: string): void {
    this.guard();
    if (!this.processes.has(id)) throw new NotFoundError(`no process "${id}"`, { id });
    this.calls.push(`${name} ${id}`);
  }

  private guard(): void {
    if (this.shuttingDown) throw new ShutdownError();
  }
}
