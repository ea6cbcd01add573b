import { resolve } from 'node:path';
import type { Logger as PinoLogger } from 'pino';
import { parseConfigText, parseDaemonConfig } from '../config/index.js';
import { clientNodeApi, configMapApi, loadKubeConfig, ProcessSetSource, type ProcessSetApi } from '../k8s/index.js';
import { realClock, type Clock } from '../util/index.js';
import { Daemon } from './daemon.js';

/*
 * Not exported from daemon/index.ts: it loads k8s/, and with it @kubernetes/client-node, which
 * `procmgr run` does not need. The CLI imports this module only for `procmgr sidecar`.
 */

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
 * `procmgr sidecar`'s composition root: the daemon fed by one ProcessSet (k8s' `ProcessSetSource`)
 * instead of a file. Called by the CLI and by tests; the caller starts and stops the daemon.
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
  const source = new ProcessSetSource({
    name: opts.name,
    namespace: opts.namespace,
    configMapKey: key,
    api,
    pod: opts.pod,
    clock,
    statusMinIntervalMs: opts.statusMinIntervalMs,
    eventAggregateMs: opts.eventAggregateMs,
    watchdogMs: opts.watchdogMs,
    watchBackoffMaxMs: opts.watchBackoffMaxMs,
    shutdownWriteTimeoutMs: opts.shutdownWriteTimeoutMs,
  });
  const listen = opts.listen ?? '0.0.0.0:7070';
  const apiSettings = { listen: listen.startsWith('/') ? `unix:${listen}` : listen, ...(opts.tokenFile === undefined ? {} : { tokenFile: resolve(opts.tokenFile) }) };
  const config = parseDaemonConfig({ processManager: { api: apiSettings, reload: { watch: false } } }, 'sidecar defaults');
  return Daemon.create({
    config,
    listen,
    logger: opts.logger,
    clock,
    readOnlySource: source.description,
    reporters: (daemon) => [source.components(daemon).reporter],
    sources: (daemon) => [source.components(daemon).watch],
    generateToken: false,
    health: () => source.health(),
    notReadyReason: () => source.notReadyReason(),
  });
}
