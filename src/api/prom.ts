// prom-client, loaded a part at a time. Its index also loads the Pushgateway, whose top-level
// `require('https')` initialises TLS and OpenSSL, and the cluster aggregator; its default
// process-CPU metric loads @opentelemetry/api for exemplars. Together that was 8 MiB of the RSS of
// an empty daemon (78 -> 70 MiB), whose whole budget is 80 MB, for features it never uses. The
// parts below are the package's own files (it has no `exports` map); the metric names and values
// are prom-client's, and test/unit/api/metrics.test.ts checks them.
import type * as Prom from 'prom-client';
import CounterImpl from 'prom-client/lib/counter.js';
import GaugeImpl from 'prom-client/lib/gauge.js';
import HistogramImpl from 'prom-client/lib/histogram.js';
import eventLoopLag from 'prom-client/lib/metrics/eventLoopLag.js';
import gc from 'prom-client/lib/metrics/gc.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';
import RegistryImpl from 'prom-client/lib/registry.js';

// Each name is the class and its instance type, as when imported from 'prom-client'.
export const Registry = RegistryImpl;
export type Registry = Prom.Registry;
export const Counter = CounterImpl;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge = GaugeImpl;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram = HistogramImpl;
export type Histogram<T extends string = string> = Prom.Histogram<T>;

/**
 * prom-client's default metrics of this process (`process_*`, `nodejs_*`), the same series as its
 * `collectDefaultMetrics` with no prefix or labels; the CPU counters are ours, without exemplars.
 */
export function collectDefaultMetrics(registry: Registry, opts: { readonly eventLoopMonitoringPrecision: number }): void {
  registerCpuTotals(registry);
  for (const register of [
    processStartTime,
    osMemoryHeap,
    processOpenFileDescriptors,
    processMaxFileDescriptors,
    eventLoopLag,
    processResources,
    processHandles,
    processRequests,
    heapSizeAndUsed,
    heapSpacesSizeAndUsed,
    version,
    gc,
  ]) {
    register(registry, opts);
  }
}

/** `process_cpu_{user,system}_seconds_total` and their sum, as prom-client defines them. */
function registerCpuTotals(registry: Registry): void {
  let last = process.cpuUsage();
  const counter = (name: string, help: string, collect?: () => void): Counter => new Counter({ name, help, registers: [registry], ...(collect ? { collect } : {}) });
  // One collect sets all three, so they come from a single process.cpuUsage() reading.
  const user = counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', () => {
    const now = process.cpuUsage();
    user.inc((now.user - last.user) / 1e6);
    system.inc((now.system - last.system) / 1e6);
    total.inc((now.user - last.user + now.system - last.system) / 1e6);
    last = now;
  });
  const system = counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.');
  const total = counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.');
}
