import { resolve } from 'node:path';
import { pino, type Logger as PinoLogger } from 'pino';
import { createApiServer, formatAddress, type ApiServer, type ApplyResult, type ProcessInfo } from '../api/index.js';
import { ConfigWatcher, isConfigError, loadConfigText, readConfigFile, readConfigText, readTokenFile, type DaemonConfig, type ProcessEntry, type ProcessManagerSettings } from '../config/index.js';
import type { ShutdownResult } from '../core/index.js';
import { createSupervisedManager, type SupervisorEvent } from '../supervisor/index.js';
import { canonicalJson, describe, isProcmgrError, realClock, type Clock } from '../util/index.js';
import { ApiToken } from './api-token.js';
import { DaemonBackend } from './backend.js';
import { DesiredSet } from './desired-set.js';
import { LazyMetrics } from './lazy-metrics.js';
import { Lifecycle, type Component } from './lifecycle.js';

/** Options of `Daemon.load`. */
export interface DaemonOptions {
  /** The config file (YAML or JSON). */
  readonly configPath: string;
  /** Overrides `processManager.api.listen` (the CLI's `--listen`). */
  readonly listen?: string | undefined;
  /** Default: pino on stdout at the config's `logLevel`. */
  readonly logger?: PinoLogger;
  readonly clock?: Clock;
}

/** How to build a daemon whose desired set comes from somewhere else than a file (the Kubernetes sidecar). */
export interface DaemonInit {
  /** Settings (and an initial set, usually empty). */
  readonly config: DaemonConfig;
  /** The file the config came from, with its text (the watcher's baseline); none for the sidecar. */
  readonly file?: { readonly path: string; readonly text: string } | undefined;
  readonly listen?: string | undefined;
  readonly logger?: PinoLogger | undefined;
  readonly clock?: Clock | undefined;
  /**
   * Extra components started after the processes and stopped before them: the sidecar's watch
   * loop, so no new set arrives while the processes stop.
   */
  readonly sources?: ((daemon: Daemon) => Component[]) | undefined;
  /**
   * Extra components started before the processes and stopped after them: the sidecar's status
   * and Event writers, so the processes' stop is reported, and no write to a slow API server
   * delays their stop signal.
   */
  readonly reporters?: ((daemon: Daemon) => Component[]) | undefined;
  /**
   * The desired set's only source, named for users (`ProcessSet ns/name`): `PUT /v1/processes`
   * is then refused with SOURCE_READ_ONLY. Default: none, the API may replace the set.
   */
  readonly readOnlySource?: string | undefined;
  /** Extra `/healthz` details (the watch loop's last progress). */
  readonly health?: (() => Record<string, unknown>) | undefined;
  /** Why the daemon is not ready whatever its processes say (the sidecar before its set was read); undefined when it may be. */
  readonly notReadyReason?: (() => string | undefined) | undefined;
  /**
   * With no token configured, generate one for a TCP listener (stored for this user's CLI).
   * Default true; the sidecar turns it off (beyond loopback it refuses instead, until a token file is given).
   */
  readonly generateToken?: boolean | undefined;
}

/** What the last reload did, for `/healthz` and the logs. */
export interface ReloadOutcome {
  readonly ok: boolean;
  readonly at: number;
  readonly error?: string;
}

/**
 * `procmgr run`: the composition root. Builds the engine + supervisor, the desired set, the API
 * with metrics and the config watcher, and runs them as components (started in that order,
 * stopped in reverse). A bad config at load throws `ConfigError`; a bad config at reload is
 * logged and changes nothing.
 */
export class Daemon {
  readonly logger: PinoLogger;
  readonly #file: string | undefined;
  readonly #listeners = new Set<(e: SupervisorEvent) => void>();
  readonly #clock: Clock;
  readonly #lifecycle: Lifecycle;
  readonly #api: ApiServer;
  readonly #desired: DesiredSet;
  readonly #manager;
  readonly #supervisor;
  readonly #metrics: LazyMetrics;
  readonly #backend: DaemonBackend;
  readonly #token: ApiToken;
  #config: DaemonConfig;
  #lastReload: ReloadOutcome | undefined;
  #watcher: ConfigWatcher | undefined;
  #accepting = false;
  #reloads: Promise<unknown> = Promise.resolve();
  #shutdown: Promise<ShutdownResult> | undefined;

  /** Reads and validates the config (throws `ConfigError`), then builds the daemon; nothing runs before `start`. */
  static async load(options: DaemonOptions): Promise<Daemon> {
    const file = resolve(options.configPath);
    // One read: its text is the watcher's baseline, so what runs and what the watcher compares against agree.
    const { text, config } = await readConfigFile(file); // a missing or unreadable file is a ConfigError too
    return new Daemon({ config, file: { path: file, text }, listen: options.listen, logger: options.logger, clock: options.clock });
  }

  /** A daemon fed by `init.sources` (see `DaemonInit`); nothing runs before `start`. */
  static create(init: DaemonInit): Daemon {
    return new Daemon(init);
  }

  private constructor(init: DaemonInit) {
    const config = init.config;
    const file = init.file?.path;
    this.#file = file;
    this.#config = config;
    this.#clock = init.clock ?? realClock;
    const pm = config.processManager;
    // No `pid`/`hostname` base fields: `pid` on a line is the supervised process's, never procmgr's.
    this.logger = init.logger ?? pino({ level: pm.logLevel, base: null, timestamp: pino.stdTimeFunctions.isoTime });
    const logger = this.logger;
    const { manager, supervisor } = createSupervisedManager({
      supervisor: {
        clock: this.#clock,
        logger,
        ...(pm.stateDir === undefined ? {} : { stateDir: pm.stateDir }),
        onEvent: (e) => {
          this.#metrics.onSupervisorEvent(e); // events begin at start(), after construction
          if (e.type === 'state' || e.type === 'probe') this.#desired.onRuntimeChange();
          for (const fn of this.#listeners) fn(e);
        },
      },
      manager: {
        ...pm.engine,
        // The desired set removes finished records itself (syncKnownProcesses); one removed for
        // room while its id is still declared would be created, and a finished job run, again.
        maxFinished: Number.POSITIVE_INFINITY,
        clock: this.#clock,
        logger,
        onEvent: (e) => {
          this.#metrics.onManagerEvent(e);
          this.#desired.onManagerEvent(e);
        },
      },
    });
    this.#manager = manager;
    this.#supervisor = supervisor;
    this.#desired = new DesiredSet({ manager, status: (id) => supervisor.status(id), logger, clock: this.#clock, capacity: pm.engine.maxProcesses });
    const backend = (this.#backend = new DaemonBackend({
      manager, supervisor, desired: this.#desired, clock: this.#clock, readOnlySource: init.readOnlySource,
      healthDetails: () => ({ config: this.#file, lastReload: this.#lastReload, configWatchedAt: this.#watcher?.lastProgressAt, ...init.health?.() }),
      notReadyReason: init.notReadyReason,
    }));
    const metrics = new LazyMetrics({ backend, clock: this.#clock });
    this.#metrics = metrics;
    const api = pm.api;
    this.#api = createApiServer({
      backend, listen: init.listen ?? formatAddress(api.listen), allowedHosts: api.allowedHosts, metricsAuth: api.metricsAuth,
      bodyLimitBytes: api.bodyLimit, requestTimeoutMs: api.requestTimeout, maxConnections: api.maxConnections, metrics, logger, clock: this.#clock,
    });
    this.#token = new ApiToken({ server: this.#api, logger, generate: init.generateToken ?? true });
    // The API comes first and goes last: while processes stop, /readyz answers 503 and `status` still works.
    const components: Component[] = [
      {
        name: 'api',
        start: async () => {
          this.#token.prepare(await this.#startToken());
          await this.#api.start();
          await this.#token.publish();
        },
        stop: async () => {
          await this.#api.stop();
          await this.#token.close();
        },
      },
      ...(init.reporters?.(this) ?? []),
      { name: 'processes', start: () => this.#startProcesses(), stop: () => this.#stopProcesses() },
      { name: 'metrics', start: () => metrics.load(), stop: () => Promise.resolve() },
    ];
    components.push(...(init.sources?.(this) ?? []));
    const text = init.file?.text;
    if (file !== undefined && pm.reload.watch) {
      components.push({
        name: 'config-watcher',
        start: () => {
          this.#watcher = new ConfigWatcher({
            file, ...(text === undefined ? {} : { initialText: text }), debounceMs: pm.reload.debounce, clock: this.#clock,
            onChange: async (t) => void (await this.#serialized(() => this.#applyText(t, 'file changed'))),
            // Missing for a moment (an editor's delete-and-write), unreadable, or too large: the running set stays.
            onError: (err) => logger.warn({ config: file, ...(isConfigError(err) ? { problems: err.problems } : { err }) }, 'watching the config file failed; retrying'),
          });
          return this.#watcher.start();
        },
        stop: async () => this.#watcher?.stop(),
      });
    }
    this.#lifecycle = new Lifecycle(components, logger);
  }

  /** The API's bound address (`127.0.0.1:7070`, or the socket path), after `start`. */
  get apiAddress(): string {
    return this.#api.address;
  }

  get config(): DaemonConfig {
    return this.#config;
  }

  /** Every process as the API shows it (engine phase + runtime status), sorted by id. */
  processes(): ProcessInfo[] {
    return this.#backend.list();
  }

  /** Supervisor events as they happen (the sidecar's Events and status); returns the unsubscribe function. */
  onEvent(fn: (e: SupervisorEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => void this.#listeners.delete(fn);
  }

  /**
   * Replaces the desired set from a source other than the file (the sidecar's ProcessSet).
   * Throws `ConfigError` or `ShutdownError` and changes nothing then.
   */
  applySet(entries: readonly ProcessEntry[], reason: string): ApplyResult {
    const result = this.#desired.apply(entries);
    this.#lastReload = { ok: true, at: this.#clock.now() };
    this.logger.info({ reason, ...result }, 'process set applied');
    return result;
  }

  async start(): Promise<void> {
    await this.#lifecycle.start();
    this.#accepting = true;
    this.logger.info({ config: this.#file, api: this.#api.address, processes: this.#config.processes.length }, 'procmgr running');
  }

  /** Re-reads the config file (SIGHUP). A bad file is logged and rejected; the running set is kept. */
  reload(reason = 'reload requested'): Promise<ReloadOutcome> {
    const file = this.#file;
    if (file === undefined) {
      // The set comes from its source; only a token file can change under us.
      const tokenFile = this.#config.processManager.api.tokenFile;
      if (tokenFile === undefined) return Promise.resolve(this.#rejected('no config file to reload: the process set comes from its source'));
      return this.#serialized(async () => {
        let token: string;
        try {
          token = await readTokenFile(tokenFile, 'sidecar --token-file');
        } catch (err) {
          // As a config file's unreadable tokenFile rejects its reload: the token in force stays.
          if (!isConfigError(err)) throw err;
          this.logger.error({ tokenFile, problems: err.problems, reason }, 'API token file unreadable; the token in force stays');
          return this.#rejected(err.message);
        }
        await this.#token.rotate(token);
        this.#lastReload = { ok: true, at: this.#clock.now() };
        return this.#lastReload;
      });
    }
    return this.#serialized(async () => {
      let text: string;
      try {
        text = await readConfigText(file);
      } catch (err) {
        this.logger.error({ config: file, err, reason }, 'config cannot be read; the running processes keep their last good config');
        return this.#rejected(`cannot read ${file}: ${describe(err)}`);
      }
      return this.#applyText(text, reason);
    });
  }

  /**
   * Reloads run one at a time, in the order asked (the last one wins), and only while the daemon
   * runs: not during startup (the state dir is still being reconciled) nor once stopping began.
   */
  #serialized(fn: () => Promise<ReloadOutcome>): Promise<ReloadOutcome> {
    const run = async (): Promise<ReloadOutcome> => {
      if (!this.#accepting) {
        this.logger.warn({ config: this.#file }, 'reload ignored: procmgr is starting or stopping');
        return this.#rejected('procmgr is starting or stopping');
      }
      try {
        return await fn();
      } catch (err) {
        this.logger.error({ config: this.#file, err }, 'reload failed; the running processes keep their last good config');
        return this.#rejected(describe(err));
      }
    };
    const next = this.#reloads.then(run);
    this.#reloads = next;
    return next;
  }

  /**
   * Stops every process within its grace (bounded by `shutdownTimeout`), then the API and the
   * watcher. `force` kills what is still running at once (a second SIGTERM). Idempotent.
   */
  async stop(options: { readonly force?: boolean } = {}): Promise<void> {
    this.#accepting = false;
    // Forcing tightens the deadline of the shutdown already under way; the components then stop as usual.
    if (options.force) await this.#manager.shutdown({ deadlineMs: 0 }).catch(() => undefined);
    await this.#lifecycle.stop();
  }

  async #startProcesses(): Promise<void> {
    const ids = this.#config.processes.map((p) => p.id);
    const cleaned = await this.#supervisor.reconcileStateDir(ids);
    if (cleaned.length > 0) this.logger.info({ removed: cleaned }, 'cleaned up processes left from before a restart that are no longer in the config');
    this.#desired.apply(this.#config.processes);
  }

  async #stopProcesses(): Promise<void> {
    this.#shutdown ??= this.#manager.shutdown({ deadlineMs: this.#config.processManager.shutdownTimeout });
    try {
      const result = await this.#shutdown;
      this.logger.info({ stopped: result.terminated.length }, 'all processes stopped');
    } catch (err) {
      // Past shutdownTimeout (or forced by a second signal) the engine gave up on what was left: kill it.
      if (!isProcmgrError(err) || err.code !== 'SHUTDOWN_TIMEOUT') throw err;
      const killed = await this.#supervisor.killAll();
      this.logger.warn({ killed }, 'processes still stopping at the deadline were killed');
    }
  }

  async #applyText(text: string, reason: string): Promise<ReloadOutcome> {
    let next: DaemonConfig;
    try {
      next = await loadConfigText(text, this.#file ?? '(no file)');
    } catch (err) {
      if (!isConfigError(err)) throw err;
      this.logger.error({ config: this.#file, problems: err.problems, reason }, 'config rejected; the running processes keep their last good config');
      return this.#rejected(err.message);
    }
    if (canonicalJson(settingsAtStart(next.processManager)) !== canonicalJson(settingsAtStart(this.#config.processManager))) {
      // Listen address, state dir and engine tuning are wired at start; the log level and the token follow a reload.
      this.logger.level = next.processManager.logLevel;
      this.logger.warn({ config: this.#file }, 'processManager settings changed: only logLevel and the API token apply now; restart procmgr for the rest');
    }
    await this.#token.rotate(next.processManager.api.token);
    this.#config = next;
    const result = this.#desired.apply(next.processes);
    this.#lastReload = { ok: true, at: this.#clock.now() };
    this.logger.info({ config: this.#file, reason, ...result }, 'config applied');
    return this.#lastReload;
  }

  /**
   * The token the config names, at start. A config file's `tokenFile` was read with the file (a
   * bad one is a ConfigError there); without a file (the sidecar) it is read here, and one that
   * cannot be read (an optional Secret not created yet) leaves the API without a token, so it
   * refuses process data and changes until a SIGHUP finds the file readable.
   */
  async #startToken(): Promise<string | undefined> {
    const api = this.#config.processManager.api;
    if (api.token !== undefined || api.tokenFile === undefined || this.#file !== undefined) return api.token;
    try {
      return await readTokenFile(api.tokenFile, 'sidecar --token-file');
    } catch (err) {
      if (!isConfigError(err)) throw err;
      this.logger.warn({ tokenFile: api.tokenFile, problems: err.problems }, 'API token file unreadable: process data and changes are refused until it is (SIGHUP re-reads it)');
      return undefined;
    }
  }

  #rejected(error: string): ReloadOutcome {
    this.#lastReload = { ok: false, at: this.#clock.now(), error };
    return this.#lastReload;
  }
}

/** The settings that apply only at start: everything but the log level and the token. */
function settingsAtStart(pm: ProcessManagerSettings): unknown {
  return { ...pm, logLevel: undefined, api: { ...pm.api, token: undefined } };
}
