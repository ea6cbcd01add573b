import { resolve } from 'node:path';
import type { Logger as PinoLogger } from 'pino';
import { isProcmgrError, realClock, type Clock } from '../util/index.js';
import { isConfigError, parseConfigText, parseDaemonConfig, parseProcessList } from '../config/index.js';
import { Daemon, type Component } from '../daemon/index.js';
import { clientNodeApi, configMapApi, loadKubeConfig, PS, type InvolvedObject, type ProcessSetApi, type ProcessSetObject } from './api.js';
import { EventRecorder } from './events.js';
import { buildStatus, StatusWriter, type Condition } from './status.js';
import type { SourceError } from './source-health.js';
import { ProcessSetWatchLoop } from './watch-loop.js';

/** Options of `createSidecar`. */
export interface SidecarOptions {
  /** The ProcessSet to serve, in `namespace`. */
  readonly name: string;
  readonly namespace: string;
  /** The pod this sidecar runs in (downward API), so Events land on it; without it they land on the ProcessSet. */
  readonly pod?: { readonly name: string; readonly uid?: string | undefined } | undefined;
  /** A kubeconfig file; default: in-cluster, else $KUBECONFIG or ~/.kube/config. */
  readonly kubeconfig?: string | undefined;
  /** The API's address. Default `0.0.0.0:7070`, so the kubelet's probes reach `/readyz` (mutations then need a token). */
  readonly listen?: string | undefined;
  /**
   * A file holding the API's bearer token (a mounted Secret), re-read on SIGHUP. Without it (or
   * while it is unreadable) a TCP listener refuses process data and changes. Default: none.
   */
  readonly tokenFile?: string | undefined;
  /** Serve a ConfigMap's key (YAML: a `processes` list) instead of a ProcessSet named `name`. */
  readonly configMapKey?: string | undefined;
  /** Default: built from `kubeconfig` (tests may pass their own). */
  readonly api?: ProcessSetApi | undefined;
  readonly logger?: PinoLogger | undefined;
  readonly clock?: Clock | undefined;
  /** Tuning, with the defaults of `StatusWriter` (1 s), `EventRecorder` (10 s) and the watch loop (6 min). */
  readonly statusMinIntervalMs?: number | undefined;
  readonly eventAggregateMs?: number | undefined;
  readonly watchdogMs?: number | undefined;
  /** The watch loop's longest retry delay (default 30 s, client-go's reflector). */
  readonly watchBackoffMaxMs?: number | undefined;
  /**
   * At shutdown, once the processes have stopped, how long the last status and Event writes may
   * take before they are given up (a hung API server must not eat the pod's grace period). Default 2 000 ms.
   */
  readonly shutdownWriteTimeoutMs?: number | undefined;
}

/**
 * `procmgr sidecar`: the daemon fed by one ProcessSet instead of a file. Each new generation of
 * its spec is validated; a valid one is applied (only changed processes restart), an invalid one
 * sets `SpecInvalid` and a Warning Event while the last good set keeps running. A deleted set
 * stops every process. Status and Events go back to the API server, coalesced and aggregated.
 *
 * Stopping (the kubelet's order: the containers get their signal first, API writes never hold it
 * up): the watch loop first, so no new set arrives; then the processes; then the status and Event
 * writers get `shutdownWriteTimeoutMs` to report the stop.
 */
export function createSidecar(opts: SidecarOptions): Daemon {
  const clock = opts.clock ?? realClock;
  const key = opts.configMapKey;
  const api =
    opts.api ??
    (key === undefined
      ? clientNodeApi(loadKubeConfig(opts.kubeconfig), opts.namespace, opts.name)
      : configMapApi(loadKubeConfig(opts.kubeconfig), opts.namespace, opts.name, key, parseConfigText));
  const involved: InvolvedObject = opts.pod
    ? { kind: 'Pod', apiVersion: 'v1', name: opts.pod.name, namespace: opts.namespace, uid: opts.pod.uid }
    : key === undefined
      ? { kind: 'ProcessSet', apiVersion: `${PS.group}/${PS.version}`, name: opts.name, namespace: opts.namespace }
      : { kind: 'ConfigMap', apiVersion: 'v1', name: opts.name, namespace: opts.namespace };
  const listen = opts.listen ?? '0.0.0.0:7070';
  let loop: ProcessSetWatchLoop | undefined;
  // Not ready until the source has been read and what it says runs (set by the source component).
  let gate: () => string | undefined = () => 'the process set source has not started';
  const apiSettings = { listen: listen.startsWith('/') ? `unix:${listen}` : listen, ...(opts.tokenFile === undefined ? {} : { tokenFile: resolve(opts.tokenFile) }) };
  const config = parseDaemonConfig({ processManager: { api: apiSettings, reload: { watch: false } } }, 'sidecar defaults');
  const source = (daemon: Daemon): { reporter: Component; watch: Component } => {
    const log = daemon.logger.child({ processSet: `${opts.namespace}/${opts.name}` });
    const status = new StatusWriter({ api, clock, logger: log, minIntervalMs: opts.statusMinIntervalMs });
    const events = new EventRecorder({ api, involved, clock, logger: log, aggregateMs: opts.eventAggregateMs });
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
        const built = buildStatus({ processes: daemon.processes(), appliedGeneration: runsCurrent() ? applied?.generation : undefined, rejected, now: clock.now() }, conditions);
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
    const applySafely = (entries: Parameters<Daemon['applySet']>[0], reason: string, generation: number | undefined): boolean => {
      try {
        daemon.applySet(entries, reason);
        return true;
      } catch (err) {
        if (!isProcmgrError(err)) throw err;
        reject(generation, err.message, { err: err.message });
        return false;
      }
    };
    gate = (): string | undefined => {
      const what = `${key === undefined ? 'ProcessSet' : 'ConfigMap'} ${opts.namespace}/${opts.name}`;
      if (rejected !== undefined && !runsCurrent()) return `${what}: ${rejected.generation === undefined ? 'its content' : `generation ${rejected.generation}`} was rejected and nothing runs yet`;
      if (applied !== undefined) return undefined;
      const error = loop?.source.lastError;
      return `${what} not read yet${error ? ` (${error.message})` : ''}`;
    };
    let unsubscribe: (() => void) | undefined;
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
    return {
      reporter: {
        name: 'processset-status',
        start: () => {
          unsubscribe = daemon.onEvent((e) => {
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
      },
      watch: {
        name: 'processset-source',
        start: () => {
          const what = key === undefined ? 'ProcessSet' : 'ConfigMap';
          const onRefused = (error: SourceError): void => {
            log.error({ code: error.status, error: error.message }, `cannot read the ${what}: ${error.message}; retrying`);
            events.record('Warning', 'FailedRead', `Cannot read ${what} ${opts.name}: ${error.message}`);
          };
          loop = new ProcessSetWatchLoop({ api, clock, logger: log, onChange, onRefused, ...(opts.watchdogMs === undefined ? {} : { watchdogMs: opts.watchdogMs }), ...(opts.watchBackoffMaxMs === undefined ? {} : { backoffMaxMs: opts.watchBackoffMaxMs }) });
          loop.start();
          return Promise.resolve();
        },
        stop: async () => loop?.stop(),
      },
    };
  };
  // Built once, on the first of the two hooks: the reporter and the watch loop share the writers.
  let parts: ReturnType<typeof source> | undefined;
  const partsOf = (daemon: Daemon): ReturnType<typeof source> => (parts ??= source(daemon));
  return Daemon.create({
    config,
    listen,
    logger: opts.logger,
    clock,
    readOnlySource: `${key === undefined ? 'ProcessSet' : 'ConfigMap'} ${opts.namespace}/${opts.name}`,
    reporters: (daemon) => [partsOf(daemon).reporter],
    sources: (daemon) => [partsOf(daemon).watch],
    generateToken: false,
    health: () => ({ processSet: `${opts.namespace}/${opts.name}`, source: loop?.source, watchProgressAt: loop?.lastProgressAt, watch: loop?.stats }),
    notReadyReason: () => gate(),
  });
}
