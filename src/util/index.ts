export * from './errors.js';
export * from './clock.js';
export { FakeClock, flushMicrotasks } from './fake-clock.js';
export * from './backoff.js';
export * from './abort.js';
export * from './logger.js';
export * from './canonical.js';
export * from './process-id.js';
