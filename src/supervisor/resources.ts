/**
 * Resource sampling of a supervised process group from /proc, checked against the limits of
 * its `ResourcesSpec`. The monitor only observes and reports; the supervisor decides what a
 * breach does (its `action`).
 */
import type { ResourcesSpec } from '../config/index.js';
import { IllegalStateError, describe } from '../util/index.js';
import type { Clock, Logger, TimerHandle } from '../util/index.js';
import { CLOCK_TICKS_PER_SECOND, PAGE_SIZE_BYTES, countOpenFiles, isAlive, isLiveStat, listStats } from './proc.js';

/** One sample of a process group. */
export interface ResourceUsage {
  /** Resident memory summed over the live members of the group. */
  readonly rssBytes: number;
  /** CPU of the group since the previous sample, in percent of one core; undefined on the first sample. */
  readonly cpuPercent: number | undefined;
  /** Open file descriptors of the leader; undefined when not readable. */
  readonly openFiles: number | undefined;
  /** Live members of the group. */
  readonly processes: number;
  /** Clock time of the sample (ms). */
  readonly at: number;
}

/** What the next sample needs from this one to compute CPU %. */
export interface CpuMark {
  /** utime + stime summed over the group, in clock ticks. */
  readonly ticks: number;
  readonly at: number;
}

/** A `ResourceUsage` that also carries its `CpuMark`, so it can be passed as the next `previous`. */
export interface GroupSample extends ResourceUsage, CpuMark {}

/**
 * Samples the process group led by `leaderPid` (members with pgrp == leaderPid; the process alone
 * when it leads no group) in one /proc
 * scan. Any caller; pass the previous sample to get CPU %. Members that exited between two
 * samples take their CPU time with them, so the delta is clamped at 0 rather than going negative.
 */
export function sampleGroup(leaderPid: number, previous: CpuMark | undefined, now: number): GroupSample {
  let rssPages = 0;
  let ticks = 0;
  let processes = 0;
  const stats = listStats();
  // A process that leads no group (an unmanaged one, usually) is sampled alone.
  const leads = stats.some((s) => s.pgrp === leaderPid && s.pid === leaderPid);
  for (const s of stats) {
    if ((leads ? s.pgrp !== leaderPid : s.pid !== leaderPid) || !isLiveStat(s)) continue;
    rssPages += s.rssPages;
    ticks += s.utimeTicks + s.stimeTicks;
    processes += 1;
  }
  let cpuPercent: number | undefined;
  if (previous !== undefined && now > previous.at) {
    const cpuSeconds = Math.max(0, ticks - previous.ticks) / CLOCK_TICKS_PER_SECOND;
    cpuPercent = (cpuSeconds / ((now - previous.at) / 1000)) * 100;
  }
  return { rssBytes: rssPages * PAGE_SIZE_BYTES, cpuPercent, openFiles: countOpenFiles(leaderPid), processes, at: now, ticks };
}

/** Where a monitor gets its facts; `procSampler` in production, a scripted fake in unit tests. */
export interface GroupSampler {
  isAlive(pid: number, startTimeTicks: number): boolean;
  sample(leaderPid: number, previous: CpuMark | undefined, now: number): GroupSample;
}

/** The /proc-backed sampler. */
export const procSampler: GroupSampler = { isAlive, sample: sampleGroup };

/** A sample over one limit; the supervisor carries out `action`. */
export interface ResourceBreach {
  readonly id: string;
  readonly resource: 'memory' | 'cpu' | 'openFiles';
  readonly value: number;
  readonly limit: number;
  readonly action: ResourcesSpec['action'];
}

/** Options of `ResourceMonitor`. */
export interface ResourceMonitorOptions {
  /** Process id, carried by every log line. */
  readonly id: string;
  /** Leader of the group (the spawned process, started in its own group). */
  readonly pid: number;
  /** Start time of `pid` from /proc, so a reused pid is never sampled as ours. */
  readonly startTimeTicks: number;
  readonly spec: ResourcesSpec;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called with every sample (for status and the API). */
  readonly onSample?: (usage: ResourceUsage) => void;
  /** Called for each limit a sample is over, once per sample. */
  readonly onBreach: (breach: ResourceBreach) => void;
  /** Defaults to `procSampler`. */
  readonly sampler?: GroupSampler;
}

/**
 * Samples one process incarnation every `spec.interval`, from `start()` until `stop()` or until
 * the leader is gone (start-time checked). The supervisor creates one per spawn; not restartable.
 */
export class ResourceMonitor {
  private readonly opts: ResourceMonitorOptions;
  private readonly sampler: GroupSampler;
  private timer: TimerHandle | undefined;
  private previous: GroupSample | undefined;
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(options: ResourceMonitorOptions) {
    this.opts = options;
    this.sampler = options.sampler ?? procSampler;
  }

  /** The latest sample, or undefined before the first one. */
  get last(): ResourceUsage | undefined {
    return this.previous === undefined ? undefined : toUsage(this.previous);
  }

  /** True between `start()` and `stop()` (or the leader's exit). */
  get running(): boolean {
    return this.state === 'running';
  }

  /** Takes a first sample now and then one every interval. A no-op while running; throws once stopped. */
  start(): void {
    if (this.state === 'running') return;
    if (this.state === 'stopped') throw new IllegalStateError('a resource monitor cannot be restarted', { process: this.opts.id });
    this.state = 'running';
    this.tick();
  }

  /** Cancels the next sample. Idempotent; any time. */
  stop(): void {
    this.state = 'stopped';
    this.timer?.cancel();
    this.timer = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    if (this.state !== 'running') return;
    const { id, pid, startTimeTicks, logger } = this.opts;
    try {
      if (!this.sampler.isAlive(pid, startTimeTicks)) {
        logger.debug({ process: id, pid }, 'resource monitor stopped: process is gone');
        this.stop();
        return;
      }
      const sample = this.sampler.sample(pid, this.previous, this.opts.clock.now());
      this.previous = sample;
      this.report(sample);
    } catch (err) {
      // One failed sample must not end the loop: log it and try again next interval.
      logger.error({ process: id, err: describe(err) }, 'resource sampling failed');
    }
    // A callback may have stopped us.
    if (this.state === 'running') this.timer = this.opts.clock.setTimer(() => this.tick(), this.opts.spec.interval);
  }

  private report(sample: GroupSample): void {
    const { id, spec, logger, onSample, onBreach } = this.opts;
    if (onSample) this.call('onSample', () => onSample(toUsage(sample)));
    const checks: [ResourceBreach['resource'], number | undefined, number | undefined][] = [
      ['memory', sample.rssBytes, spec.memory],
      ['cpu', sample.cpuPercent, spec.cpuPercent],
      ['openFiles', sample.openFiles, spec.openFiles],
    ];
    for (const [resource, value, limit] of checks) {
      if (value === undefined || limit === undefined || value <= limit) continue;
      logger.warn({ process: id, resource, value, limit, action: spec.action }, 'resource limit exceeded');
      this.call('onBreach', () => onBreach({ id, resource, value, limit, action: spec.action }));
    }
  }

  // A throwing callback is the owner's bug: log it, and still report the other limits.
  private call(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.logger.error({ process: this.opts.id, err: describe(err) }, `resource monitor ${name} callback failed`);
    }
  }
}

function toUsage(s: GroupSample): ResourceUsage {
  return { rssBytes: s.rssBytes, cpuPercent: s.cpuPercent, openFiles: s.openFiles, processes: s.processes, at: s.at };
}
