/**
 * procmgr as a library: the engine, the process spec, and the OS-process supervisor.
 * The daemon, API and Kubernetes layers export from their own folders.
 */
export * from './util/index.js';
export * from './core/index.js';
export * from './config/index.js';
export * from './supervisor/index.js';
