import { describe, expect, it } from 'vitest';
import type { ResourcesSpec } from '../../../src/config/index.js';
import { ResourceMonitor } from '../../../src/supervisor/resources.js';
import type { CpuMark, GroupSample, GroupSampler, ResourceBreach, ResourceUsage } from '../../../src/supervisor/resources.js';
import { FakeClock, IllegalStateError } from '../../../src/util/index.js';
import { recordingLogger, type LogRecord } from '../../helpers/recording-logger.js';


type Step = Partial<Omit<GroupSample, 'at'>> | Error | 'gone';

/** Plays `steps` one per sample; the last step repeats. Records the `previous` each call got. */
class ScriptedSampler implements GroupSampler {
  readonly previous: (CpuMark | undefined)[] = [];
  private i = 0;
  constructor(private readonly steps: Step[]) {}

  private step(): Step {
    return this.steps[Math.min(this.i, this.steps.length - 1)] ?? {};
  }

  isAlive(): boolean {
    return this.step() !== 'gone';
  }

  sample(_pid: number, previous: CpuMark | undefined, now: number): GroupSample {
    const step = this.step();
    this.i += 1;
    this.previous.push(previous);
    if (step instanceof Error) throw step;
    if (step === 'gone') throw new Error('unreachable');
    return { rssBytes: 0, cpuPercent: undefined, openFiles: undefined, processes: 1, ticks: 0, ...step, at: now };
  }
}

function setup(steps: Step[], spec: Partial<ResourcesSpec> = {}) {
  const clock = new FakeClock(0);
  const records: LogRecord[] = [];
  const breaches: ResourceBreach[] = [];
  const samples: ResourceUsage[] = [];
  const sampler = new ScriptedSampler(steps);
  const monitor = new ResourceMonitor({
    id: 'web',
    pid: 1234,
    startTimeTicks: 99,
    spec: { interval: 1_000, action: 'restart', ...spec },
    clock,
    logger: recordingLogger(records),
    sampler,
    onSample: (u) => samples.push(u),
    onBreach: (b) => breaches.push(b),
  });
  return { clock, records, breaches, samples, sampler, monitor };
}

describe('ResourceMonitor', () => {
  it('samples at start and then every interval, passing each sample to the next', () => {
    const { clock, samples, sampler, monitor } = setup([{ rssBytes: 1, ticks: 10 }, { rssBytes: 2, ticks: 30 }]);
    expect(monitor.last).toBeUndefined();
    monitor.start();
    monitor.start(); // no-op while running
    expect(samples).toEqual([{ rssBytes: 1, cpuPercent: undefined, openFiles: undefined, processes: 1, at: 0 }]);
    clock.advance(999);
    expect(samples).toHaveLength(1);
    clock.advance(1);
    expect(samples.map((s) => s.at)).toEqual([0, 1_000]);
    expect(sampler.previous[1]).toMatchObject({ ticks: 10, at: 0 });
    expect(monitor.last).toEqual({ rssBytes: 2, cpuPercent: undefined, openFiles: undefined, processes: 1, at: 1_000 });
    expect(monitor.last).not.toHaveProperty('ticks');
  });

  it('reports every limit a sample is over, on every sample, and logs a warning', () => {
    const { clock, records, breaches, monitor } = setup(
      [
        { rssBytes: 100, cpuPercent: undefined, openFiles: 5 },
        { rssBytes: 101, cpuPercent: 80.5, openFiles: 11 },
      ],
      { memory: 100, cpuPercent: 50, openFiles: 10 },
    );
    monitor.start();
    expect(breaches).toEqual([]); // at the limit is not over it; no CPU % on the first sample
    clock.advance(1_000);
    clock.advance(1_000);
    const expected: ResourceBreach[] = [
      { id: 'web', resource: 'memory', value: 101, limit: 100, action: 'restart' },
      { id: 'web', resource: 'cpu', value: 80.5, limit: 50, action: 'restart' },
      { id: 'web', resource: 'openFiles', value: 11, limit: 10, action: 'restart' },
    ];
    expect(breaches).toEqual([...expected, ...expected]);
    const warns = records.filter((r) => r.level === 'warn');
    expect(warns).toHaveLength(6);
    expect(warns[0]?.obj).toMatchObject({ process: 'web', resource: 'memory', value: 101, limit: 100 });
  });

  it('ignores limits that are not set', () => {
    const { clock, breaches, monitor } = setup([{ rssBytes: 10 ** 12, cpuPercent: 900, openFiles: 10 ** 6 }]);
    monitor.start();
    clock.advance(5_000);
    expect(breaches).toEqual([]);
  });

  it('logs a failed sample and keeps sampling', () => {
    const { clock, records, samples, monitor } = setup([new Error('EIO'), { rssBytes: 7 }]);
    monitor.start();
    expect(records.filter((r) => r.level === 'error')).toEqual([
      { level: 'error', obj: { process: 'web', err: 'EIO' }, msg: 'resource sampling failed' },
    ]);
    expect(monitor.running).toBe(true);
    clock.advance(1_000);
    expect(samples.map((s) => s.rssBytes)).toEqual([7]);
  });

  it('survives a throwing callback and still reports the other limits', () => {
    const clock = new FakeClock(0);
    const records: LogRecord[] = [];
    const seen: string[] = [];
    const monitor = new ResourceMonitor({
      id: 'web',
      pid: 1,
      startTimeTicks: 1,
      spec: { interval: 1_000, action: 'log', memory: 1, openFiles: 1 },
      clock,
      logger: recordingLogger(records),
      sampler: new ScriptedSampler([{ rssBytes: 2, openFiles: 2 }]),
      onBreach: (b) => {
        seen.push(b.resource);
        throw new Error('owner bug');
      },
    });
    monitor.start();
    expect(seen).toEqual(['memory', 'openFiles']);
    expect(records.filter((r) => r.level === 'error').map((r) => r.msg)).toEqual([
      'resource monitor onBreach callback failed',
      'resource monitor onBreach callback failed',
    ]);
    expect(clock.pendingTimers()).toBe(1);
    monitor.stop();
  });

  it('stops by itself when the leader is gone, leaving no timer', () => {
    const { clock, samples, monitor } = setup([{ rssBytes: 1 }, 'gone']);
    monitor.start();
    clock.advance(1_000);
    expect(monitor.running).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
    expect(samples).toHaveLength(1);
  });

  it('stop is idempotent, cancels the timer, and the monitor cannot be restarted', () => {
    const { clock, samples, monitor } = setup([{ rssBytes: 1 }]);
    monitor.start();
    monitor.stop();
    monitor.stop();
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(10_000);
    expect(samples).toHaveLength(1);
    expect(() => monitor.start()).toThrow(IllegalStateError);
  });

  it('can be stopped from inside its breach callback', () => {
    const clock = new FakeClock(0);
    const monitor: ResourceMonitor = new ResourceMonitor({
      id: 'web',
      pid: 1,
      startTimeTicks: 1,
      spec: { interval: 1_000, action: 'kill', memory: 1 },
      clock,
      logger: recordingLogger([]),
      sampler: new ScriptedSampler([{ rssBytes: 2 }]),
      onBreach: () => monitor.stop(),
    });
    monitor.start();
    expect(monitor.running).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
  });
});
