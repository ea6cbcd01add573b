export { Daemon, type DaemonOptions, type ReloadOutcome } from './daemon.js';
export { DaemonBackend, SourceReadOnlyError, type DaemonBackendDeps } from './backend.js';
export { DesiredSet, type DesiredSetDeps } from './desired-set.js';
export { Lifecycle, StartAbortedError, type Component } from './lifecycle.js';
