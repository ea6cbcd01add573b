export { ProcessManager } from './manager.js';
export { DelayQueue } from './delay-queue.js';
export { TimerQueue } from './timer-queue.js';
export { phaseOf, hookFor } from './phase.js';
export { requeueDelayMs, type RetrySettings } from './retry.js';
export * from './types.js';
