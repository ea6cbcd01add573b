import * as promClient from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/api/metrics.js';
import { FakeClock } from '../../../src/util/index.js';
import { FakeBackend, info } from './fake-backend.js';

function setup(...processes: ReturnType<typeof info>[]) {
  const backend = new FakeBackend(...processes);
  const clock = new FakeClock(1_000_000);
  const metrics = createMetrics({ backend, clock, defaultMetrics: false });
  return { backend, clock, metrics, scrape: () => metrics.registry.metrics() };
}

describe('createMetrics', () => {
  it('exposes phase, state, ready and both restart counters per process from the backend at scrape time', async () => {
    const { scrape } = setup(info('web', { restarts: 3, requestedRestarts: 7 }), info('job', { phase: 'Starting', state: 'Backoff', ready: false }));
    const text = await scrape();
    expect(text).toContain('procmgr_process_phase{process="web",phase="Syncing"} 1');
    expect(text).toContain('procmgr_process_phase{process="web",phase="Starting"} 0');
    expect(text).toContain('procmgr_process_phase{process="job",phase="Starting"} 1');
    expect(text).toContain('procmgr_process_state{process="job",state="Backoff"} 1');
    expect(text).toContain('procmgr_process_state{process="job",state="Running"} 0');
    expect(text).toContain('procmgr_process_ready{process="web"} 1');
    expect(text).toContain('procmgr_process_ready{process="job"} 0');
    expect(text).toContain('procmgr_process_restarts{process="web"} 3');
    expect(text).toContain('procmgr_process_requested_restarts{process="web"} 7');
    expect(text).toContain('procmgr_process_requested_restarts{process="job"} 0');
    expect(text).toMatch(/^# TYPE procmgr_process_requested_restarts gauge$/m);
  });

  it('exposes backoff countdown, usage and probe verdicts only where they exist', async () => {
    const { scrape } = setup(
      info('crashy', { state: 'Backoff', nextStartAt: 1_002_500, ready: false, pid: undefined }),
      info('web', {
        usage: { rssBytes: 1_048_576, cpuPercent: 25, openFiles: 12, processes: 2, at: 0 },
        probes: {
          started: true,
          live: true,
          ready: false,
          probes: {
            liveness: { ok: true, message: 'ok', at: 1, successes: 3, failures: 0 },
            readiness: { ok: false, message: 'HTTP 503', at: 1, successes: 0, failures: 2 },
            startup: { ok: undefined, message: '', at: undefined, successes: 0, failures: 0 },
          },
        },
      }),
    );
    const text = await scrape();
    expect(text).toContain('procmgr_process_backoff_seconds{process="crashy"} 2.5');
    expect(text).not.toContain('procmgr_process_backoff_seconds{process="web"}');
    expect(text).toContain('procmgr_process_resident_memory_bytes{process="web"} 1048576');
    expect(text).toContain('procmgr_process_cpu_cores{process="web"} 0.25');
    expect(text).toContain('procmgr_process_open_fds{process="web"} 12');
    expect(text).not.toContain('procmgr_process_resident_memory_bytes{process="crashy"}');
    expect(text).toContain('procmgr_probe_passing{process="web",probe="liveness"} 1');
    expect(text).toContain('procmgr_probe_passing{process="web",probe="readiness"} 0');
    expect(text).not.toContain('probe="startup"');
  });

  it('exposes the engine queue depth, calls in flight and health', async () => {
    const { scrape, backend } = setup();
    expect(await scrape()).toMatch(/procmgr_engine_queue_depth 3\n[\s\S]*procmgr_engine_in_flight 1\n[\s\S]*procmgr_healthy 1/);
    backend.healthInfo = { ok: false, details: {} };
    expect(await scrape()).toContain('procmgr_healthy 0');
  });

  it('counts exits by code or signal name, and probe flips by probe and result', async () => {
    const { metrics, scrape } = setup(info('web'));
    const exited = { type: 'exited', id: 'web', pid: 1, reason: undefined, ranForMs: 5 } as const;
    metrics.onSupervisorEvent({ ...exited, code: 1, signal: null });
    metrics.onSupervisorEvent({ ...exited, code: 1, signal: null });
    metrics.onSupervisorEvent({ ...exited, code: null, signal: 'SIGKILL' });
    metrics.onSupervisorEvent({ ...exited, code: null, signal: null });
    metrics.onSupervisorEvent({ type: 'probe', id: 'web', probe: 'readiness', result: 'failed', message: 'HTTP 503' });
    metrics.onSupervisorEvent({ type: 'started', id: 'web', pid: 2, restarts: 1, requestedRestarts: 0 });
    const text = await scrape();
    expect(text).toContain('procmgr_process_exits_total{process="web",code="1"} 2');
    expect(text).toContain('procmgr_process_exits_total{process="web",code="SIGKILL"} 1');
    expect(text).toContain('procmgr_process_exits_total{process="web",code="unknown"} 1');
    expect(text).toContain('procmgr_probe_transitions_total{process="web",probe="readiness",result="failed"} 1');
  });

  it('observes every probe check\'s duration by process and probe', async () => {
    const { metrics, scrape } = setup(info('web'));
    metrics.onSupervisorEvent({ type: 'probeCheck', id: 'web', probe: 'liveness', ok: true, durationMs: 2 });
    metrics.onSupervisorEvent({ type: 'probeCheck', id: 'web', probe: 'liveness', ok: false, durationMs: 1_000 });
    const text = await scrape();
    expect(text).toContain('procmgr_probe_duration_seconds_bucket{le="0.0025",process="web",probe="liveness"} 1');
    expect(text).toContain('procmgr_probe_duration_seconds_count{process="web",probe="liveness"} 2');
  });

  it('observes sync durations in seconds by hook and outcome', async () => {
    const { metrics, scrape } = setup();
    metrics.onManagerEvent({ type: 'sync', id: 'a', hook: 'syncProcess', outcome: 'success', durationMs: 20 });
    metrics.onManagerEvent({ type: 'sync', id: 'a', hook: 'syncProcess', outcome: 'success', durationMs: 3_000 });
    metrics.onManagerEvent({ type: 'sync', id: 'a', hook: 'syncTerminating', outcome: 'error', durationMs: 1 });
    const text = await scrape();
    expect(text).toContain('procmgr_sync_duration_seconds_bucket{le="0.025",hook="syncProcess",outcome="success"} 1');
    expect(text).toContain('procmgr_sync_duration_seconds_bucket{le="5",hook="syncProcess",outcome="success"} 2');
    expect(text).toContain('procmgr_sync_duration_seconds_sum{hook="syncProcess",outcome="success"} 3.02');
    expect(text).toContain('procmgr_sync_duration_seconds_count{hook="syncTerminating",outcome="error"} 1');
  });

  it('drops every series of a process that is gone, whether removed or just no longer listed', async () => {
    const { backend, metrics, scrape } = setup(info('keep'), info('gone', { usage: { rssBytes: 1, cpuPercent: 1, openFiles: 1, processes: 1, at: 0 } }), info('quiet'));
    for (const id of ['keep', 'gone', 'quiet']) {
      metrics.onSupervisorEvent({ type: 'exited', id, pid: 1, code: 0, signal: null, reason: undefined, ranForMs: 1 });
      metrics.onSupervisorEvent({ type: 'probe', id, probe: 'liveness', result: 'failed', message: 'x' });
      metrics.onSupervisorEvent({ type: 'probeCheck', id, probe: 'liveness', ok: false, durationMs: 5 });
    }
    expect(await scrape()).toContain('process="gone"');
    backend.processes.delete('gone');
    metrics.onManagerEvent({ type: 'removed', id: 'gone' });
    // No event for this one: the backend simply stopped listing it.
    backend.processes.delete('quiet');
    const text = await scrape();
    expect(text).not.toContain('process="gone"');
    expect(text).not.toContain('process="quiet"');
    expect(text).toContain('procmgr_process_exits_total{process="keep",code="0"} 1');
    // Coming back starts from zero.
    backend.processes.set('quiet', info('quiet'));
    expect(await scrape()).not.toContain('procmgr_process_exits_total{process="quiet"');
  });

  it('reads the backend once per scrape', async () => {
    const { backend, scrape } = setup(info('a'));
    let calls = 0;
    const list = backend.list.bind(backend);
    backend.list = () => {
      calls++;
      return list();
    };
    await scrape();
    expect(calls).toBe(1);
    await scrape();
    expect(calls).toBe(2);
  });

  it('uses its own registry, so two instances do not collide; default metrics are opt-out', async () => {
    const a = createMetrics({ backend: new FakeBackend() });
    const b = createMetrics({ backend: new FakeBackend() });
    expect(a.registry).not.toBe(b.registry);
    expect(await a.registry.metrics()).toContain('process_cpu_user_seconds_total');
    expect(await setup().scrape()).not.toContain('process_cpu_user_seconds_total');
  });

  it('has the same default metrics as prom-client\'s collectDefaultMetrics, and they move', async () => {
    const theirs = new promClient.Registry();
    promClient.collectDefaultMetrics({ register: theirs });
    const ours = createMetrics({ backend: new FakeBackend(), defaultMetrics: true }).registry;
    const shape = async (r: promClient.Registry) =>
      (await r.getMetricsAsJSON()).filter((m) => !m.name.startsWith('procmgr_')).map((m) => `${m.name} ${m.type} ${m.help}`).sort();
    expect(await shape(ours)).toEqual(await shape(theirs));
    // The CPU counters come from one reading: they move, and user + system = total.
    for (const end = Date.now() + 20; Date.now() < end; );
    await ours.metrics();
    const value = async (name: string) => (await ours.getSingleMetric(name)!.get()).values[0]!.value;
    const [user, system, total] = [await value('process_cpu_user_seconds_total'), await value('process_cpu_system_seconds_total'), await value('process_cpu_seconds_total')];
    expect(user).toBeGreaterThan(0);
    expect(total).toBeCloseTo(user + system, 9);
  });
});
