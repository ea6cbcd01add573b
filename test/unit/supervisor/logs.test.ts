import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { LoggingSpec } from '../../../src/config/index.js';
import { LineRing, LineSplitter, LogCapture } from '../../../src/supervisor/logs/index.js';
import type { LogLine } from '../../../src/supervisor/logs/index.js';
import { FakeClock, InvalidArgumentError, flushMicrotasks } from '../../../src/util/index.js';
import { recordingLogger, type LogRecord } from '../../helpers/recording-logger.js';


/** Feeds `chunks` and the final flush; returns every line. */
function split(chunks: (string | Buffer)[], maxLineBytes?: number): string[] {
  const s = new LineSplitter(maxLineBytes === undefined ? {} : { maxLineBytes });
  const lines: string[] = [];
  const emit = (text: string): void => void lines.push(text);
  for (const c of chunks) s.push(typeof c === 'string' ? Buffer.from(c) : c, emit);
  s.flush(emit);
  return lines;
}

describe('LineSplitter', () => {
  it.each<[string, (string | Buffer)[], string[]]>([
    ['one chunk, several lines', ['a\nb\nc\n'], ['a', 'b', 'c']],
    ['a line across chunks', ['he', 'llo\nwor', 'ld\n'], ['hello', 'world']],
    ['CRLF, also split between chunks', ['a\r\nb\r', '\nc\r\n'], ['a', 'b', 'c']],
    ['a lone CR stays in the line', ['50%\r100%\n'], ['50%\r100%']],
    ['empty lines are kept', ['\n\nx\n'], ['', '', 'x']],
    ['a partial last line comes out on flush', ['a\nb'], ['a', 'b']],
    ['nothing at all', [], []],
    ['a multi-byte character split across chunks', [Buffer.from([0x68, 0xc3]), Buffer.from([0xa9, 0x0a])], ['hé']],
    ['a 4-byte emoji split in three', [Buffer.from([0xf0, 0x9f]), Buffer.from([0x98]), Buffer.from([0x80, 0x0a])], ['😀']],
    ['a truncated character at the end', [Buffer.from([0x61, 0xe2, 0x82])], ['a\ufffd']],
  ])('%s', (_name, chunks, lines) => {
    expect(split(chunks)).toEqual(lines);
  });

  it('cuts a long line into pieces of at most maxLineBytes', () => {
    expect(split(['abcdefghij\nxy\n'], 4)).toEqual(['abcd', 'efgh', 'ij', 'xy']);
    expect(split(['ab', 'cd', 'ef', 'gh', 'i'], 4)).toEqual(['abcd', 'efgh', 'i']);
    // Exactly at the cap is one line; a CR that turns out to be part of CRLF does not count.
    expect(split(['abcd\r', '\n'], 4)).toEqual(['abcd']);
    expect(split(['abcd\r', 'e\n'], 4)).toEqual(['abcd', '\re']);
  });

  it('never cuts inside a character', () => {
    const pieces = split(['ééééé\n'], 5); // 2 bytes each
    expect(pieces).toEqual(['éé', 'éé', 'é']);
    for (const p of split(['😀😀😀\n'], 6)) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(6);
    expect(split(['😀😀😀\n'], 6).join('')).toBe('😀😀😀');
  });

  it('defaults to 16 KiB lines', () => {
    const lines = split(['x'.repeat(16 * 1024 * 2 + 1) + '\n']);
    expect(lines.map((l) => l.length)).toEqual([16 * 1024, 16 * 1024, 1]);
  });
});

describe('LineRing', () => {
  const push = (r: LineRing, text: string): number => r.push('stdout', 0, text, 0);
  const texts = (lines: LogLine[]): string[] => lines.map((l) => l.line);

  it('keeps the newest lines with increasing sequence numbers', () => {
    const r = new LineRing(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((x) => push(r, x))).toEqual([1, 2, 3, 4, 5]);
    expect(texts(r.toArray())).toEqual(['c', 'd', 'e']);
    expect(r.toArray().map((l) => l.seq)).toEqual([3, 4, 5]);
    expect(r.size).toBe(3);
    expect(texts(r.tail(2))).toEqual(['d', 'e']);
    expect(texts(r.tail(10))).toEqual(['c', 'd', 'e']);
    expect(r.tail(0)).toEqual([]);
    expect(r.nextSeq).toBe(6);
  });

  it('gives back every field of a line', () => {
    const r = new LineRing(2);
    r.push('stderr', 1_234, 'oops', 4);
    expect(r.toArray()).toEqual([{ seq: 1, at: 1_234, stream: 'stderr', line: 'oops' }]);
  });

  it.each([
    [0, ['c', 'd', 'e']],
    [3, ['d', 'e']],
    [4, ['e']],
    [5, []],
    [9, []],
  ])('since(%i)', (seq, expected) => {
    const r = new LineRing(3);
    for (const x of ['a', 'b', 'c', 'd', 'e']) push(r, x);
    expect(texts(r.since(seq))).toEqual(expected);
  });

  it('with capacity 0 keeps nothing but still counts', () => {
    const r = new LineRing(0);
    expect(push(r, '1')).toBe(1);
    expect(push(r, '2')).toBe(2);
    expect(r.toArray()).toEqual([]);
    expect(r.since(0)).toEqual([]);
  });

  it('clear keeps counting; bad capacity is refused', () => {
    const r = new LineRing(2);
    push(r, '1');
    r.clear();
    expect(r.toArray()).toEqual([]);
    expect(push(r, '2')).toBe(2);
    expect(texts(r.since(1))).toEqual(['2']);
    expect(() => new LineRing(-1)).toThrow(InvalidArgumentError);
    expect(() => new LineRing(1.5)).toThrow(InvalidArgumentError);
  });
});

describe('LogCapture', () => {
  const spec: LoggingSpec = { maxSize: 1024, maxFiles: 1, bufferLines: 3, bufferSize: 2 ** 20, forward: true };

  function capture(s: LoggingSpec = spec) {
    const clock = new FakeClock(1_000);
    const records: LogRecord[] = [];
    const cap = new LogCapture({ id: 'web', logger: recordingLogger(records), clock, spec: s });
    return { clock, records, cap };
  }

  it('logs, buffers and publishes every line with its stream, after the stream ends', async () => {
    const { clock, records, cap } = capture();
    const out = new PassThrough();
    const err = new PassThrough();
    const seen: LogLine[] = [];
    const unsubscribe = cap.subscribe((l) => seen.push(l));
    const attached = Promise.all([cap.attach(out, 'stdout'), cap.attach(err, 'stderr')]);
    out.write('hello\nwor');
    await clock.settle();
    err.end('oops\n');
    await clock.settle();
    clock.advance(5);
    out.end('ld');
    await attached;

    expect(cap.lines()).toEqual([
      { seq: 1, at: 1_000, stream: 'stdout', line: 'hello' },
      { seq: 2, at: 1_000, stream: 'stderr', line: 'oops' },
      { seq: 3, at: 1_005, stream: 'stdout', line: 'world' },
    ]);
    expect(seen).toEqual(cap.lines());
    expect(records).toEqual([
      { level: 'info', obj: { process: 'web', stream: 'stdout' }, msg: 'hello' },
      { level: 'info', obj: { process: 'web', stream: 'stderr' }, msg: 'oops' },
      { level: 'info', obj: { process: 'web', stream: 'stdout' }, msg: 'world' },
    ]);

    unsubscribe();
    const again = new PassThrough();
    const done = cap.attach(again, 'stdout');
    again.end('a\nb\n');
    await done;
    expect(seen).toHaveLength(3);
    expect(cap.lines().map((l) => l.seq)).toEqual([3, 4, 5]); // bufferLines: 3, seq keeps counting across attaches
    expect(cap.lines({ tail: 2 }).map((l) => l.line)).toEqual(['a', 'b']);
    expect(cap.lines({ since: 4 }).map((l) => l.line)).toEqual(['b']);
    expect(cap.lines({ since: 3, tail: 1 }).map((l) => l.line)).toEqual(['b']);
    await cap.close();
    await cap.close();
  });

  it('keeps what was read when a stream fails, and a throwing subscriber does not stop the others', async () => {
    const { records, cap } = capture();
    const seen: string[] = [];
    cap.subscribe(() => {
      throw new Error('subscriber bug');
    });
    cap.subscribe((l) => seen.push(l.line));
    const s = new PassThrough();
    const done = cap.attach(s, 'stderr');
    s.write('partial');
    await flushMicrotasks(); // let the capture read it before the stream breaks
    s.destroy(new Error('EPIPE'));
    await expect(done).resolves.toBeUndefined();
    expect(seen).toEqual(['partial']);
    expect(records.filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual(['output stream failed', 'log subscriber failed']);
    await cap.close();
  });

  it('keeps no lines with bufferLines 0 but still logs them', async () => {
    const { records, cap } = capture({ ...spec, bufferLines: 0 });
    const s = new PassThrough();
    const done = cap.attach(s, 'stdout');
    s.end('x\n');
    await done;
    expect(cap.lines()).toEqual([]);
    expect(records).toHaveLength(1);
    await cap.close();
  });
});
