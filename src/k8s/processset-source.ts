import { isConfigError, parseProcessList, type ProcessEntry } from '../config/index.js';
import type { ProcessInfo, SupervisorEvent } from '../supervisor/index.js';
import { isProcmgrError, realClock, type Clock, type Logger } from '../util/index.js';
import { PS, type InvolvedObject, type ProcessSetApi, type ProcessSetObject } from './api.js';
import { EventRecorder } from './events.js';
import type { SourceError } from './source-health.js';
import { buildStatus, StatusWriter, type Condition } from './status.js';
import { ProcessSetWatchLoop } from './watch-loop.js';

/** What the ProcessSet source needs from the daemon it feeds (the daemon implements it; k8s does not import it). */
export interface SourceHost {
  readonly logger: Logger;
  /** Every process as the API shows it, for the status. */
  processes(): ProcessInfo[];
  /** Subscribes to supervisor events; returns the unsubscribe function. */
  onEvent(fn: (e: SupervisorEvent) => void): () => void;
  /** Replaces the desired set; throws a `ProcmgrError` when it cannot. */
  applySet(entries: readonly ProcessEntry[], reason: string): unknown;
}

/** A part the daemon starts and stops in order (structurally the daemon's `Component`). */
export interface SourceComponent {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Options of `ProcessSetSource`. */
export interface ProcessSetSourceOptions {
  /** The ProcessSet (or ConfigMap) served, in `namespace`. */
  readonly name: string;
  readonly namespace: string;
  /** Set when a ConfigMap's key is served instead of a ProcessSet. */
  readonly configMapKey?: string | undefined;
  readonly api: ProcessSetApi;
  /** The pod this sidecar runs in, so Events land on it; without it they land on the served object. */
  readonly pod?: { readonly name: string; readonly uid?: string | undefined } | undefined;
  readonly clock?: Clock | undefined;
  /** Tuning, with the defaults of `StatusWriter` (1 s), `EventRecorder` (10 s) and the watch loop (6 min). */
  readonly statusMinIntervalMs?: number | undefined;
  readonly eventAggregateMs?: number | undefined;
  readonly watchdogMs?: number | undefined;
  readonly watchBackoffMaxMs?: number | undefined;
  /** How long the last status and Event writes may take at shutdown. Default 2 000 ms. */
  readonly shutdownWriteTimeoutMs?: number | undefined;
}

/**
 * The sidecar's desired set: one ProcessSet (or ConfigMap key) watched, validated and applied to
 * a host, with status and Events written back. Each new generation of its spec is validated; a
 * valid one is applied (only changed processes restart), an invalid one sets `SpecInvalid` and a
 * Warning Event while the last good set keeps running. A deleted set stops every process.
 *
 * The composition root builds one, hands `components(host)` to the daemon (the reporter before
 * the processes, the watch after them), and asks `notReadyReason()` and `health()` for probes.
 */
export class ProcessSetSource {
  readonly #o: ProcessSetSourceOptions;
  readonly #clock: Clock;
  #loop: ProcessSetWatchLoop | undefined;
  #parts: { readonly reporter: SourceComponent; readonly watch: SourceComponent } | undefined;
  // Not ready until the source has been read and what it says runs (set once bound to a host).
  #gate: () => string | undefined = () => 'the process set source has not started';

  constructor(options: ProcessSetSourceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
  }

  /** `ProcessSet ns/name` or `ConfigMap ns/name`, for messages and the read-only refusal. */
  get description(): string {
    return `${this.#kind()} ${this.#o.namespace}/${this.#o.name}`;
  }

  /** Why the sidecar is not ready whatever its processes say; undefined once what the source says runs. */
  notReadyReason(): string | undefined {
    return this.#gate();
  }

  /** `/healthz` details: the source's state and the watch loop's last progress. */
  health(): Record<string, unknown> {
    const loop = this.#loop;
    return { processSet: `${this.#o.namespace}/${this.#o.name}`, source: loop?.source, watchProgressAt: loop?.lastProgressAt, watch: loop?.stats };
  }

  /**
   * The two components, built once for `host` (the reporter and the watch share the writers):
   * `reporter` (status and Events) starts before the processes and stops after them; `watch`
   * starts after them and stops first, so no new set arrives while they stop.
   */
  components(host: SourceHost): { readonly reporter: SourceComponent; readonly watch: SourceComponent } {
    return (this.#parts ??= this.#build(host));
  }

  #kind(): string {
    return this.#o.configMapKey === undefined ? 'ProcessSet' : 'ConfigMap';
  }

  #involved(): InvolvedObject {
    const { pod, namespace, name } = this.#o;
    if (pod) return { kind: 'Pod', apiVersion: 'v1', name: pod.name, namespace, uid: pod.uid };
    return this.#o.configMapKey === undefined
      ? { kind: 'ProcessSet', apiVersion: `${PS.group}/${PS.version}`, name, namespace }
      : { kind: 'ConfigMap', apiVersion: 'v1', name, namespace };
  }

  #build(host: SourceHost): { reporter: SourceComponent; watch: SourceComponent } {
    const opts = this.#o;
    const { api } = opts;
    const clock = this.#clock;
    const log = host.logger.child({ processSet: `${opts.namespace}/${opts.name}` });
    const status = new StatusWriter({ api, clock, logger: log, minIntervalMs: opts.statusMinIntervalMs });
    const events = new EventRecorder({ api, involved: this.#involved(), clock, logger: log, aggregateMs: opts.eventAggregateMs });
    // What runs (which object, which generation) and the newest spec if it was rejected: status
    // and readiness tell them apart. A set deleted and created again is another object.
    let applied: { readonly uid: string | undefined; readonly generation: number | undefined } | undefined;
    let currentUid: string | undefined;
    let rejected: { readonly generation: number | undefined; readonly error: string } | undefined;
    let seen: string | undefined;
    let conditions: Condition[] = [];
    const writeStatus = (): void => {
      if (seen === undefined || seen === 'deleted') return; // nothing to write the status of
      status.update(() => {
        const built = buildStatus({ processes: host.processes(), appliedGeneration: runsCurrent() ? applied?.generation : undefined, rejected, now: clock.now() }, conditions);
        conditions = built.conditions;
        return built.status;
      });
    };
    const runsCurrent = (): boolean => applied !== undefined && applied.uid === currentUid;
    const reject = (generation: number | undefined, error: string, logged: Record<string, unknown>): void => {
      rejected = { generation, error };
      log.error({ generation, ...logged }, 'ProcessSet spec rejected; the last good set keeps running');
      events.record('Warning', 'SpecInvalid', generation === undefined ? `Rejected: ${error}` : `Generation ${generation} rejected: ${error}`);
    };
    const applySafely = (entries: readonly ProcessEntry[], reason: string, generation: number | undefined): boolean => {
      try {
        host.applySet(entries, reason);
        return true;
      } catch (err) {
        if (!isProcmgrError(err)) throw err;
        reject(generation, err.message, { err: err.message });
        return false;
      }
    };
    const onChange = (set: ProcessSetObject | undefined): void => {
      // Our own status writes come back as MODIFIED events of the same generation: only a new spec
      // matters. A ConfigMap has no generation; its resourceVersion changes only with its data.
      const version = set ? `${set.metadata.uid ?? ''}/${set.metadata.generation ?? set.metadata.resourceVersion ?? 0}` : 'deleted';
      if (version === seen) return;
      seen = version;
      currentUid = set?.metadata.uid;
      if (!set) {
        log.info({}, 'ProcessSet is gone: stopping every process');
        rejected = undefined;
        if (applySafely([], 'ProcessSet deleted', undefined)) applied = { uid: undefined, generation: undefined };
        return;
      }
      const generation = set.metadata.generation;
      if (set.sourceError !== undefined) {
        reject(generation, set.sourceError, { error: set.sourceError });
        writeStatus();
        return;
      }
      try {
        const entries = parseProcessList(set.spec?.processes ?? [], 'spec.processes');
        if (applySafely(entries, `generation ${generation ?? '?'}`, generation)) {
          applied = { uid: currentUid, generation };
          rejected = undefined;
        }
      } catch (err) {
        if (!isConfigError(err)) throw err;
        const problems = err.problems.map((p) => `${p.path}: ${p.message}`);
        reject(generation, problems.join('; '), { problems });
      }
      writeStatus();
    };
    this.#gate = (): string | undefined => {
      const what = this.description;
      if (rejected !== undefined && !runsCurrent()) return `${what}: ${rejected.generation === undefined ? 'its content' : `generation ${rejected.generation}`} was rejected and nothing runs yet`;
      if (applied !== undefined) return undefined;
      const error = this.#loop?.source.lastError;
      return `${what} not read yet${error ? ` (${error.message})` : ''}`;
    };
    const finalWrites = async (): Promise<void> => {
      const timeoutMs = opts.shutdownWriteTimeoutMs ?? 2_000;
      const deadline = new AbortController();
      const timer = clock.setTimer(() => deadline.abort(new Error('shutdown write timeout')), timeoutMs);
      try {
        // Event writes take no signal: they are left to settle on their own past the deadline.
        const done = Promise.all([events.flush(), status.close(deadline.signal)]);
        const expired = new Promise<void>((resolve) => deadline.signal.addEventListener('abort', () => resolve(), { once: true }));
        await Promise.race([done, expired]);
        if (deadline.signal.aborted) log.warn({ timeoutMs }, 'final status and Event writes cut short: the API server did not answer in time');
      } finally {
        timer.cancel();
        deadline.abort(new Error('final writes over'));
      }
    };
    let unsubscribe: (() => void) | undefined;
    const reporter: SourceComponent = {
      name: 'processset-status',
      start: () => {
        unsubscribe = host.onEvent((e) => {
          events.onSupervisorEvent(e);
          // Every probe check and resource sample is an event too; none of them changes the status.
          if (e.type !== 'probeCheck' && e.type !== 'resource') writeStatus();
        });
        return Promise.resolve();
      },
      stop: async () => {
        unsubscribe?.();
        await finalWrites();
      },
    };
    const watch: SourceComponent = {
      name: 'processset-source',
      start: () => {
        const what = this.#kind();
        const onRefused = (error: SourceError): void => {
          log.error({ code: error.status, error: error.message }, `cannot read the ${what}: ${error.message}; retrying`);
          events.record('Warning', 'FailedRead', `Cannot read ${what} ${opts.name}: ${error.message}`);
        };
        this.#loop = new ProcessSetWatchLoop({ api, clock, logger: log, onChange, onRefused, ...(opts.watchdogMs === undefined ? {} : { watchdogMs: opts.watchdogMs }), ...(opts.watchBackoffMaxMs === undefined ? {} : { backoffMaxMs: opts.watchBackoffMaxMs }) });
        this.#loop.start();
        return Promise.resolve();
      },
      stop: async () => this.#loop?.stop(),
    };
    return { reporter, watch };
  }
}
