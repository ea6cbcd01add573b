import { pino } from 'pino';
import type { Clock, Logger, TimerHandle } from '../../util/index.js';
import type { StreamName } from './ring-buffer.js';

/**
 * How far procmgr's log destination may fall behind before captured lines stop being copied into
 * it: the records it holds in memory for a slow stdout stay around this size, however fast the
 * processes write. Shared by every process (one destination).
 */
export const FORWARD_BACKLOG_LIMIT_BYTES = 4 * 1024 * 1024;

/** Lines skipped while the destination is behind are reported at most this often per process. */
export const DROP_REPORT_INTERVAL_MS = 10_000;

/**
 * A function that says whether `logger`'s destination is behind, or undefined when it cannot tell
 * (not pino, or a destination that shows no backlog: lines are then always forwarded).
 * pino keeps its destination under `pino.symbols.streamSym` (its API for integrations):
 * - a Node `Writable` shows `writableLength`;
 * - pino's default destination (sonic-boom, what `procmgr run` logs to) has no public accessor:
 *   its buffered length is `_len` (a contract test pins the pino and sonic-boom in use);
 * - a pino transport (thread-stream) says `writableNeedDrain` once its own buffer is full.
 */
export function destinationBehind(logger: Logger, limitBytes = FORWARD_BACKLOG_LIMIT_BYTES): (() => boolean) | undefined {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as Record<string, unknown> | undefined;
  if (typeof stream !== 'object' || stream === null) return undefined;
  if (typeof stream.writableLength === 'number') return () => (stream.writableLength as number) > limitBytes;
  if (typeof stream._len === 'number') return () => (stream._len as number) > limitBytes;
  if (typeof stream.writableNeedDrain === 'boolean') return () => stream.writableNeedDrain as boolean;
  return undefined;
}

/**
 * What one process may copy into procmgr's log: a budget in bytes, refilled at this rate up to
 * the burst. A line costs its length plus `FORWARD_LINE_COST_BYTES` (its record's fields and what
 * pino and the destination hold for it until it is written). 1 MiB/s is about 3 000 lines of
 * 100 bytes a second, after a burst of about 12 000: more than journald lets a service log by
 * default, and a bound on what a chatty process costs procmgr in CPU and memory whatever the
 * destination (also one `destinationBehind` cannot see into).
 */
export const FORWARD_RATE_BYTES_PER_S = 1024 * 1024;
export const FORWARD_BURST_BYTES = 4 * 1024 * 1024;
export const FORWARD_LINE_COST_BYTES = 256;

/** Options of `LogForwarder`. */
export interface LogForwarderOptions {
  readonly id: string;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Says whether the destination is behind; default `destinationBehind(logger)`, or never. */
  readonly behind?: () => boolean;
  /** Default `DROP_REPORT_INTERVAL_MS`. */
  readonly reportIntervalMs?: number;
  /** Defaults `FORWARD_RATE_BYTES_PER_S` and `FORWARD_BURST_BYTES`. */
  readonly rateBytesPerS?: number;
  readonly burstBytes?: number;
}

/** Lines not copied into procmgr's log, by reason. */
export interface ForwardDrops {
  /** The process was over its rate (see `FORWARD_RATE_BYTES_PER_S`). */
  readonly overRate: number;
  /** The destination was behind (see `destinationBehind`). */
  readonly destinationBehind: number;
}

/**
 * Copies the captured lines of one process into procmgr's own log, one `info` record
 * `{ process, stream, msg }` per line, within the process's rate and while the log's destination
 * keeps up. Any other line is not copied (the ring buffer, the file and followers still get it): a
 * process never waits for procmgr's stdout, and that stdout never holds more than about
 * `FORWARD_BACKLOG_LIMIT_BYTES`. Skipped lines are counted and reported in one `warn` at most
 * once per interval (the first at once). Owned by a `LogCapture`; `close` reports the rest.
 */
export class LogForwarder {
  private readonly opts: LogForwarderOptions;
  private readonly behind: () => boolean;
  private readonly intervalMs: number;
  private readonly rate: number;
  private readonly burst: number;
  private budget: number;
  private refilledAt: number;
  private total = { overRate: 0, destinationBehind: 0 };
  private unreported = { overRate: 0, destinationBehind: 0 };
  private reportedAt = Number.NEGATIVE_INFINITY;
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(options: LogForwarderOptions) {
    this.opts = options;
    this.behind = options.behind ?? destinationBehind(options.logger) ?? (() => false);
    this.intervalMs = options.reportIntervalMs ?? DROP_REPORT_INTERVAL_MS;
    this.rate = options.rateBytesPerS ?? FORWARD_RATE_BYTES_PER_S;
    this.burst = options.burstBytes ?? FORWARD_BURST_BYTES;
    this.budget = this.burst;
    this.refilledAt = options.clock.now();
  }

  /** Lines not copied so far, by reason. */
  get drops(): ForwardDrops {
    return { ...this.total };
  }

  /** Lines not copied so far. */
  get dropped(): number {
    return this.total.overRate + this.total.destinationBehind;
  }

  /** Copies one line of `bytes` bytes, read at `at` (clock ms), or counts it. */
  forward(stream: StreamName, text: string, bytes: number, at: number): void {
    this.budget = Math.min(this.burst, this.budget + (Math.max(0, at - this.refilledAt) * this.rate) / 1000);
    this.refilledAt = at;
    const cost = bytes + FORWARD_LINE_COST_BYTES;
    if (this.budget < cost) return this.skip('overRate');
    if (this.behind()) return this.skip('destinationBehind');
    this.budget -= cost;
    this.opts.logger.info({ process: this.opts.id, stream }, text);
  }

  /**
   * Reports what is left to report; no timer is armed after it. A line that still comes (the rest
   * of a pipe after the process was removed) is copied or counted as before, but not reported.
   */
  close(): void {
    this.report();
    this.closed = true;
  }

  private skip(reason: keyof ForwardDrops): void {
    this.total[reason]++;
    this.unreported[reason]++;
    if (this.timer || this.closed) return;
    const wait = this.reportedAt + this.intervalMs - this.opts.clock.now();
    if (wait <= 0) this.report();
    else this.timer = this.opts.clock.setTimer(() => this.report(), wait);
  }

  private report(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const { overRate, destinationBehind } = this.unreported;
    if (overRate + destinationBehind === 0) return;
    this.reportedAt = this.opts.clock.now();
    this.unreported = { overRate: 0, destinationBehind: 0 };
    this.opts.logger.warn(
      { process: this.opts.id, dropped: overRate + destinationBehind, overRate, destinationBehind, droppedTotal: this.dropped },
      "output lines not copied into procmgr's log: over the process's rate, or the log's destination is behind (the process's buffer and log file have them)",
    );
  }
}
