import type * as MetricsModule from './metrics.js';

/**
 * The metrics module, loaded on demand. The index exports this instead of `createMetrics`, so
 * importing the API (the daemon, the CLI) does not load prom-client; the daemon loads it once its
 * processes have been started (LazyMetrics).
 */
export async function importMetrics(): Promise<typeof MetricsModule> {
  return import('./metrics.js');
}
