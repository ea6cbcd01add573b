import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoggingSpec } from '../../../src/config/index.js';
import { parseProcessSpec } from '../../../src/config/index.js';
import {
  DROP_REPORT_INTERVAL_MS,
  FORWARD_BACKLOG_LIMIT_BYTES,
  FORWARD_BURST_BYTES,
  FORWARD_LINE_COST_BYTES,
  FORWARD_RATE_BYTES_PER_S,
  LineRing,
  LineSplitter,
  LogCapture,
  LogForwarder,
  destinationBehind,
} from '../../../src/supervisor/logs/index.js';
import { FakeClock, InvalidArgumentError, silentLogger } from '../../../src/util/index.js';
import { recordingLogger, type LogRecord } from '../../helpers/recording-logger.js';

// Issue #15: what the output of a process may cost procmgr, whatever the process writes.

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function collect(s: LineSplitter, chunks: Buffer[]): { text: string; bytes: number }[] {
  const out: { text: string; bytes: number }[] = [];
  const emit = (text: string, bytes: number): void => void out.push({ text, bytes });
  for (const c of chunks) s.push(c, emit);
  s.flush(emit);
  return out;
}

describe('LineSplitter bounds', () => {
  it('gives each line its size in bytes as written, and counts the cuts of over-long lines', () => {
    const s = new LineSplitter({ maxLineBytes: 4 });
    expect(collect(s, [Buffer.from('hé\r\nabcdefghij\nxy')])).toEqual([
      { text: 'hé', bytes: 3 },
      { text: 'abcd', bytes: 4 },
      { text: 'efgh', bytes: 4 },
      { text: 'ij', bytes: 2 },
      { text: 'xy', bytes: 2 },
    ]);
    expect(s.cuts).toBe(2);
  });

  it('holds at most one line cap of a line that never ends (10 MiB without a newline)', () => {
    const s = new LineSplitter();
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let pieces = 0;
    let bytes = 0;
    const emit = (text: string, n: number): void => {
      pieces++;
      bytes += n;
      expect(n).toBe(16 * 1024);
      expect(text.length).toBe(16 * 1024);
    };
    for (let i = 0; i < 160; i++) s.push(chunk, emit);
    expect(bytes).toBe(160 * 64 * 1024 - 16 * 1024); // the last 16 KiB may still be continued
    s.flush(emit);
    expect(pieces).toBe(640);
    expect(s.cuts).toBe(639);
  });

  it('cuts a run of bytes that are not UTF-8 at the cap instead of looping', () => {
    const s = new LineSplitter({ maxLineBytes: 8 });
    const out = collect(s, [Buffer.alloc(20, 0x80), Buffer.from('\n')]);
    expect(out.map((l) => l.bytes)).toEqual([8, 8, 4]);
    expect(out[0]?.text).toBe('\ufffd'.repeat(8));
  });

  it('backs up over at most three continuation bytes to keep a character whole', () => {
    // 4-byte characters: a cap of 6 can only hold one of them per piece.
    const out = collect(new LineSplitter({ maxLineBytes: 6 }), [Buffer.from('😀😀😀\n')]);
    expect(out).toEqual([
      { text: '😀', bytes: 4 },
      { text: '😀', bytes: 4 },
      { text: '😀', bytes: 4 },
    ]);
  });
});

describe('LineRing by bytes', () => {
  const push = (r: LineRing, text: string, bytes = Buffer.byteLength(text)): number => r.push('stdout', 0, text, bytes);
  const texts = (r: LineRing): string[] => r.toArray().map((l) => l.line);

  it('drops the oldest lines once the bytes or the count are reached', () => {
    const r = new LineRing(10, 10);
    for (const x of ['aaaa', 'bbbb', 'cc']) push(r, x);
    expect(texts(r)).toEqual(['aaaa', 'bbbb', 'cc']);
    expect(r.bytes).toBe(10);
    push(r, 'd');
    expect(texts(r)).toEqual(['bbbb', 'cc', 'd']);
    expect(r.bytes).toBe(7);
    expect(r.since(2).map((l) => [l.seq, l.line])).toEqual([
      [3, 'cc'],
      [4, 'd'],
    ]);
    expect(r.since(0).map((l) => l.seq)).toEqual([2, 3, 4]);
    const byCount = new LineRing(2, 100);
    for (const n of ['1', '2', '3']) push(byCount, n);
    expect([texts(byCount), byCount.bytes]).toEqual([['2', '3'], 2]);
  });

  it('counts but does not keep a line larger than maxBytes (nor what came before it)', () => {
    const r = new LineRing(10, 4);
    push(r, 'ab');
    expect(push(r, 'toolong')).toBe(2);
    expect([texts(r), r.bytes, r.nextSeq]).toEqual([[], 0, 3]);
    push(r, 'c');
    expect(r.since(2).map((l) => [l.seq, l.line])).toEqual([[3, 'c']]);
  });

  it('refuses a bad maxBytes; 0 keeps only empty lines', () => {
    expect(() => new LineRing(1, -1)).toThrow(InvalidArgumentError);
    expect(() => new LineRing(1, Number.NaN)).toThrow(InvalidArgumentError);
    const r = new LineRing(3, 0);
    push(r, 'x');
    push(r, '');
    expect(texts(r)).toEqual(['']);
  });
});

describe('LogForwarder', () => {
  function forwarder(behind: { now: boolean }, over: { rateBytesPerS?: number; burstBytes?: number } = {}) {
    const clock = new FakeClock(0);
    const records: LogRecord[] = [];
    const f = new LogForwarder({ id: 'web', logger: recordingLogger(records), clock, behind: () => behind.now, ...over });
    // Lines are stamped with the clock's time, as the capture does.
    const line = (text: string, stream: 'stdout' | 'stderr' = 'stdout'): void => f.forward(stream, text, Buffer.byteLength(text), clock.now());
    return { clock, records, f, line };
  }
  const warns = (records: LogRecord[]) => records.filter((r) => r.level === 'warn').map((r) => r.obj);
  const infos = (records: LogRecord[]) => records.filter((r) => r.level === 'info').map((r) => r.msg);

  it('copies lines while the destination keeps up and counts those it skips while behind', async () => {
    const behind = { now: false };
    const { clock, records, f, line } = forwarder(behind);
    line('a');
    behind.now = true;
    for (let i = 0; i < 5; i++) line(`skipped ${i}`, 'stderr');
    behind.now = false;
    line('b');
    expect(records.filter((r) => r.level === 'info')).toEqual([
      { level: 'info', obj: { process: 'web', stream: 'stdout' }, msg: 'a' },
      { level: 'info', obj: { process: 'web', stream: 'stdout' }, msg: 'b' },
    ]);
    expect([f.dropped, f.drops]).toEqual([5, { overRate: 0, destinationBehind: 5 }]);
    // The first skip is reported at once, the other four when the interval has passed.
    const first = { process: 'web', dropped: 1, overRate: 0, destinationBehind: 1, droppedTotal: 1 };
    expect(warns(records)).toEqual([first]);
    await clock.tick(DROP_REPORT_INTERVAL_MS);
    expect(warns(records)).toEqual([first, { process: 'web', dropped: 4, overRate: 0, destinationBehind: 4, droppedTotal: 5 }]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('reports at most once per interval however long the destination stays behind, and the rest on close', async () => {
    const behind = { now: true };
    const { clock, records, f, line } = forwarder(behind);
    for (let ms = 0; ms < 35_000; ms += 100) {
      line('x');
      await clock.tick(100);
    }
    line('last');
    // The first at once (t = 0), then at t = 10 s, 20 s and 30 s.
    expect(warns(records).map((w) => w.dropped)).toEqual([1, 99, 100, 100]);
    f.close();
    f.close();
    expect(warns(records).map((w) => w.dropped)).toEqual([1, 99, 100, 100, 51]);
    expect(warns(records).at(-1)?.droppedTotal).toBe(351);
    expect(clock.pendingTimers()).toBe(0);
    line('after close');
    expect([infos(records), f.dropped, warns(records).length, clock.pendingTimers()]).toEqual([[], 352, 5, 0]);
  });

  it('lets a burst through, then a process its rate: each line costs its bytes plus the record', async () => {
    const cost = 100 + FORWARD_LINE_COST_BYTES;
    const { clock, records, f, line } = forwarder({ now: false }, { rateBytesPerS: 10 * cost, burstBytes: 3 * cost });
    const text = 'x'.repeat(100);
    for (let i = 0; i < 5; i++) line(text);
    expect(infos(records)).toHaveLength(3);
    expect(f.drops).toEqual({ overRate: 2, destinationBehind: 0 });
    await clock.tick(200); // refills two lines' worth
    for (let i = 0; i < 5; i++) line(text);
    expect(infos(records)).toHaveLength(5);
    await clock.tick(60_000); // refills up to the burst, no more
    for (let i = 0; i < 5; i++) line(text);
    expect(infos(records)).toHaveLength(8);
    expect(f.drops).toEqual({ overRate: 7, destinationBehind: 0 });
    f.close();
    // At once; when the interval is over (t = 10 s); at once again after the interval (t = 60 s); on close.
    expect(warns(records).map((w) => w.overRate)).toEqual([1, 4, 1, 1]);
  });

  it('defaults to 1 MiB/s after a 4 MiB burst', () => {
    expect([FORWARD_RATE_BYTES_PER_S, FORWARD_BURST_BYTES]).toEqual([2 ** 20, 4 * 2 ** 20]);
    const { f, line } = forwarder({ now: false });
    for (let i = 0; i < 20_000; i++) line('x'.repeat(100));
    expect(f.dropped).toBe(20_000 - Math.floor(FORWARD_BURST_BYTES / (100 + FORWARD_LINE_COST_BYTES)));
    f.close();
  });
});

describe("destinationBehind: the backlog of procmgr's log destination", () => {
  function tempFile(): string {
    const dir = mkdtempSync(join(tmpdir(), 'procmgr-dest-'));
    dirs.push(dir);
    return join(dir, 'procmgr.log');
  }

  it("sees pino's default destination (sonic-boom) fill up in one turn and empty again (contract with the pinned versions)", async () => {
    const dest = pino.destination({ dest: tempFile(), sync: false });
    const logger = pino({ base: null }, dest);
    await new Promise((resolve) => dest.once('ready', resolve));
    const behind = destinationBehind(logger, 64 * 1024);
    expect(behind).toBeTypeOf('function');
    expect(behind?.()).toBe(false);
    // One turn of the event loop: nothing is written yet, everything is buffered.
    for (let i = 0; i < 2_000; i++) logger.child({ process: 'web' }).info({ stream: 'stdout' }, 'x'.repeat(100));
    expect(behind?.()).toBe(true);
    while (behind?.()) await once(dest, 'drain');
    expect(behind?.()).toBe(false);
    dest.end();
  });

  it('sees a Writable by its writableLength', async () => {
    let release: () => void = () => undefined;
    const slow = new Writable({ highWaterMark: 16, write: (_c, _e, cb) => void (release = () => cb()) });
    const logger = pino({ base: null }, slow);
    const behind = destinationBehind(logger, 1_000);
    for (let i = 0; i < 20; i++) logger.info({}, 'y'.repeat(100));
    expect(behind?.()).toBe(true);
    for (let i = 0; i < 20; i++) {
      release();
      await new Promise((r) => setImmediate(r));
    }
    expect(behind?.()).toBe(false);
  });

  it('cannot tell for a logger that is not pino: lines are always forwarded', () => {
    expect(destinationBehind(silentLogger)).toBeUndefined();
    expect(destinationBehind(recordingLogger([]))).toBeUndefined();
    expect(FORWARD_BACKLOG_LIMIT_BYTES).toBe(4 * 2 ** 20);
  });
});

describe('LogCapture bounds', () => {
  const spec = (over: Partial<LoggingSpec> = {}): LoggingSpec => ({ maxSize: 1024, maxFiles: 1, bufferLines: 1_000, bufferSize: 2 ** 20, forward: true, ...over });

  it('keeps at most bufferSize bytes of lines and counts every line and cut in its stats', async () => {
    const records: LogRecord[] = [];
    const cap = new LogCapture({ id: 'web', logger: recordingLogger(records), clock: new FakeClock(0), spec: spec({ bufferSize: 100 }), maxLineBytes: 30 });
    const s = new PassThrough();
    const done = cap.attach(s, 'stdout');
    s.end(`${'a'.repeat(40)}\n${Array.from({ length: 20 }, (_, i) => `line ${String(i).padStart(4, '0')}`).join('\n')}\n`);
    await done;
    const kept = cap.lines();
    expect(kept.reduce((n, l) => n + Buffer.byteLength(l.line), 0)).toBeLessThanOrEqual(100);
    expect(kept.map((l) => l.line).at(-1)).toBe('line 0019');
    expect(kept).toHaveLength(11); // 9 bytes each
    expect(cap.stats()).toEqual({ lines: 22, notForwarded: 0, cuts: 1, fileWaits: 0, droppedBytes: 0 });
    expect(records).toHaveLength(22);
    await cap.close();
  });

  it('with forward: false keeps procmgr\'s log free of the lines, which are still buffered', async () => {
    const records: LogRecord[] = [];
    const cap = new LogCapture({ id: 'web', logger: recordingLogger(records), clock: new FakeClock(0), spec: spec({ forward: false }) });
    const s = new PassThrough();
    const done = cap.attach(s, 'stdout');
    s.end('a\nb\n');
    await done;
    expect(records).toEqual([]);
    expect(cap.lines().map((l) => l.line)).toEqual(['a', 'b']);
    await cap.close();
  });

  it('counts lines not forwarded while the destination is behind, and reports them on close', async () => {
    const records: LogRecord[] = [];
    let behind = false;
    const cap = new LogCapture({ id: 'web', logger: recordingLogger(records), clock: new FakeClock(0), spec: spec(), forwardBehind: () => behind });
    const s = new PassThrough();
    const done = cap.attach(s, 'stdout');
    s.write('kept\n');
    await new Promise((r) => setImmediate(r));
    behind = true;
    s.end('one\ntwo\n');
    await done;
    expect(cap.stats().notForwarded).toBe(2);
    expect(cap.lines().map((l) => l.line)).toEqual(['kept', 'one', 'two']);
    await cap.close();
    // The first skip at once, the second on close.
    expect(records.map((r) => [r.msg?.slice(0, 20), r.obj.dropped])).toEqual([
      ['kept', undefined],
      ['output lines not cop', 1],
      ['output lines not cop', 1],
    ]);
  });
});

describe('logging spec', () => {
  it('defaults forward to true and the buffer to 1000 lines and 1 MiB, and bounds both', () => {
    expect(parseProcessSpec({ command: 'x' }).logging).toEqual({ maxSize: 10 * 2 ** 20, maxFiles: 3, bufferLines: 1_000, bufferSize: 2 ** 20, forward: true });
    expect(parseProcessSpec({ command: 'x', logging: { forward: false, bufferSize: '64Ki' } }).logging).toMatchObject({ forward: false, bufferSize: 65_536 });
    expect(() => parseProcessSpec({ command: 'x', logging: { bufferSize: '2Gi' } })).toThrow(/at most 1Gi/);
    expect(() => parseProcessSpec({ command: 'x', logging: { bufferLines: 1_000_001 } })).toThrow(/bufferLines/);
  });
});
