/**
 * procmgr as a library (the package's only entry point): the engine (`ProcessManager`), the
 * OS-process supervisor that can be its syncer (`createSupervisedManager`), the process spec with
 * its parse and load functions, the typed errors, and the Clock the engine takes.
 *
 * This list is explicit on purpose: whatever is not here (the delay queue, phase helpers, zod
 * schemas, state files, backoff arithmetic) is internal and may change in any release.
 * The daemon, the HTTP API and the Kubernetes sidecar are programs, run through the `procmgr` CLI
 * (`procmgr run`, `procmgr sidecar`), not libraries; they have no entry point here.
 * test/unit/public-api.test.ts pins the list of values.
 */

// The engine: declare the processes you want, call syncKnownProcesses from your loop.
export { ProcessManager } from './core/index.js';
export { PHASES, UPDATE_TYPES } from './core/index.js';
export type {
  HealthReport,
  Hook,
  ManagerEvent,
  ManagerState,
  Phase,
  ProcessManagerOptions,
  ProcessStatus,
  ProcessSyncer,
  ProcessUpdate,
  ShutdownOptions,
  ShutdownResult,
  SyncContext,
  SyncOutcome,
  SyncResult,
  TerminateOptions,
  TerminateWaitOptions,
  TerminatingContext,
  UpdateType,
} from './core/index.js';

// Real OS processes: the supervisor as the engine's syncer.
export { createSupervisedManager, Supervisor } from './supervisor/index.js';
export type {
  BreakerState,
  BreakerStatus,
  ExitInfo,
  LastExit,
  LogLine,
  LogStats,
  ProbeName,
  ProbeSetStatus,
  ProbeStatus,
  ResourceBreach,
  ResourceUsage,
  RuntimeState,
  RuntimeStatus,
  SpawnFailure,
  StreamName,
  SupervisedManagerOptions,
  SupervisorEvent,
  SupervisorOptions,
  Transition,
} from './supervisor/index.js';

// The process spec and the config file: validated once, with errors that name the path.
export { loadConfigFile, loadConfigText, parseConfigText, parseDaemonConfig, parseProcessList, parseProcessSpec } from './config/index.js';
export type { ConfigProblem, DaemonConfig, DaemonConfigInput, LoggingSpec, ProbeKind, ProbeSpec, ProcessEntry, ProcessSpec, ProcessSpecInput, ResourcesSpec, RestartSpec } from './config/index.js';

// Errors: branch on `err.code` (or `isProcmgrError`), never on the message.
export {
  ForceStoppedError,
  IllegalStateError,
  InvalidArgumentError,
  ManagerFailedError,
  NotFoundError,
  ProcmgrError,
  QueueFullError,
  ShutdownError,
  ShutdownTimeoutError,
  SyncTimeoutError,
  TerminalError,
  isProcmgrError,
} from './util/index.js';
export { AttachError, SpawnError, StateFileError, StopError } from './supervisor/index.js';
export { ConfigError, isConfigError } from './config/index.js';

// Time and logging are injected: the real clock, a fake one for your tests, the logger port.
export { FakeClock, flushMicrotasks, realClock, sleep } from './util/index.js';
export type { Clock, LogFn, Logger, Random, TimerHandle } from './util/index.js';
