/**
 * procmgr as a library: the engine and its building blocks.
 * Later layers (supervisor, config, daemon, Kubernetes) export from their own folders.
 */
export * from './util/index.js';
export * from './core/index.js';
