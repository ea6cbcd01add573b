export * from './units.js';
export * from './process-spec.js';
export * from './errors.js';
export * from './parse.js';
export * from './docs.js';
export * from './daemon-config.js';
export * from './load.js';
export * from './watch.js';
