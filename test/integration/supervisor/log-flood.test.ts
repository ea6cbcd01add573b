import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FORWARD_BACKLOG_LIMIT_BYTES } from '../../../src/supervisor/logs/index.js';
import { realClock, sleep } from '../../../src/util/index.js';
import { NODE, supervised } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';

// Issue #15: memory stays bounded whatever a child writes, and a neighbour is still supervised.

let h: ReturnType<typeof supervised> | undefined;
let release: (() => void) | undefined;
afterEach(async () => {
  release?.(); // a stalled destination would hold the shutdown's last records
  await h?.close();
  h = undefined;
});

/**
 * procmgr's log on a destination that takes nothing while `stalled` (a stdout nobody reads),
 * counting what it finally gets: the forwarded lines of `id` and the warnings.
 */
function stalledDestination(id: string) {
  const pending: (() => void)[] = [];
  let stalled = true;
  let forwarded = 0;
  const warnings: Record<string, unknown>[] = [];
  let tail = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = tail + chunk.toString();
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      for (const l of lines) {
        if (l.startsWith(`{"level":30,"process":"${id}","stream"`)) forwarded++;
        else if (l.startsWith('{"level":40')) warnings.push(JSON.parse(l) as Record<string, unknown>);
      }
      if (stalled) pending.push(() => cb());
      else cb();
    },
  });
  const logger = pino({ base: null, timestamp: false }, stream);
  return {
    logger,
    stream,
    warnings,
    get forwarded() {
      return forwarded;
    },
    release: () => {
      stalled = false;
      for (const cb of pending.splice(0)) cb();
    },
  };
}

describe('a process that writes as fast as it can', () => {
  it('does not grow procmgr past its bounds, a killed neighbour restarts meanwhile, and every line is accounted for', async () => {
    const dest = stalledDestination('flood');
    release = dest.release;
    h = supervised({ supervisor: { logger: dest.logger } });
    const heapBefore = process.memoryUsage().heapUsed;
    // 1 KiB lines, so procmgr's log passes its backlog limit within its rate (with `yes` alone the rate binds first).
    h.create('flood', { command: 'yes', args: ['x'.repeat(1023)], stopGracePeriod: '1s' });
    h.create('bystander', { command: NODE, args: ['-e', 'setInterval(() => {}, 1e9)'], restart: { delay: '50ms' } });
    const oldPid = await h.running('bystander');
    await h.running('flood');

    let maxBacklog = 0;
    let maxHeap = 0;
    const sample = (): void => {
      maxBacklog = Math.max(maxBacklog, dest.stream.writableLength);
      maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
    };
    await eventually('the flood past the backlog limit', () => (sample(), (h?.supervisor.status('flood')?.logs?.notForwarded ?? 0) > 1_000), 20_000);
    process.kill(oldPid, 'SIGKILL');
    const newPid = await eventually('the bystander restarted during the flood', () => {
      sample();
      const pid = h?.pid('bystander');
      return h?.state('bystander') === 'Running' && pid !== oldPid ? pid : undefined;
    }, 20_000);
    expect(newPid).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) {
      sample();
      await sleep(realClock, 50);
    }
    const during = h.supervisor.status('flood')?.logs;
    expect(h.state('flood')).toBe('Running');
    expect(during?.lines).toBeGreaterThan(10_000);

    // Before #15 the destination held every line: 1 KiB a line, as fast as `yes` writes.
    expect(maxBacklog).toBeLessThanOrEqual(FORWARD_BACKLOG_LIMIT_BYTES + 64 * 1024);
    // The test process runs the supervisor: generous, but far below what a backlog of seconds of `yes` takes.
    expect(maxHeap - heapBefore).toBeLessThan(200 * 2 ** 20);

    await h.close(); // stops both, closes the captures: the last count is reported
    dest.release();
    await eventually('the final report', () => dest.warnings.some((w) => w.droppedTotal === h?.supervisor.status('flood')?.logs?.notForwarded));
    const final = h.supervisor.status('flood')?.logs;
    expect(final?.notForwarded).toBeGreaterThan(0);
    // Every line is either in procmgr's log or counted as not copied.
    expect(dest.forwarded + (final?.notForwarded ?? 0)).toBe(final?.lines);
    expect(dest.warnings.some((w) => typeof w.destinationBehind === 'number' && w.destinationBehind > 0)).toBe(true);
    expect(dest.warnings.reduce((n, w) => n + Number(w.dropped), 0)).toBe(final?.notForwarded);
  });

  it('waits for a log file that falls behind instead of holding its lines: the process blocks, nothing is lost', async () => {
    h = supervised();
    const dir = h.dir();
    const fifo = join(dir, 'out.log');
    execFileSync('mkfifo', [fifo]); // a "disk" that takes only what the test reads
    const reader = createReadStream(fifo, { highWaterMark: 64 * 1024 });
    let readBytes = 0;
    let newlines = 0;
    reader.on('data', (b) => {
      readBytes += b.length;
      for (let i = (b as Buffer).indexOf(10); i >= 0; i = (b as Buffer).indexOf(10, i + 1)) newlines++;
    });
    reader.pause();
    const ended = new Promise<void>((resolve) => reader.once('close', () => resolve()));
    h.create('writer', { command: 'yes', args: ['y'.repeat(99)], logging: { file: fifo, maxSize: '1Gi', forward: false }, stopGracePeriod: '1s' });
    await h.running('writer');

    await eventually('reading paused for the file', () => (h?.supervisor.status('writer')?.logs?.fileWaits ?? 0) > 0, 20_000);
    const held = h.supervisor.status('writer')?.logs?.lines ?? 0;
    await sleep(realClock, 500);
    // Nothing moves while the file takes nothing (a pipe's worth may still arrive).
    expect((h.supervisor.status('writer')?.logs?.lines ?? 0) - held).toBeLessThan(2_000);
    const heap = process.memoryUsage().heapUsed;

    reader.resume();
    await eventually('reading again', () => (h?.supervisor.status('writer')?.logs?.lines ?? 0) > held + 50_000, 20_000);
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(100 * 2 ** 20);
    await h.close();
    await ended;
    const lines = h.supervisor.status('writer')?.logs?.lines ?? 0;
    expect(newlines).toBe(lines);
    expect(readBytes).toBe(lines * 100);
  });
});
