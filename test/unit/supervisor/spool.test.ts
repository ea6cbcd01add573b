import { appendFileSync, closeSync, existsSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogCapture, SPOOL_BEHIND_LIMIT_BYTES, SPOOL_TRUNCATE_BYTES, SpoolReader, createSpool, removeSpool } from '../../../src/supervisor/logs/index.js';
import type { LogLine } from '../../../src/supervisor/logs/index.js';
import { realClock, silentLogger } from '../../../src/util/index.js';
import { tempDir } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';

const dirs: string[] = [];
const readers: SpoolReader[] = [];
afterEach(() => {
  for (const r of readers.splice(0)) r.destroy();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function spoolPath(): string {
  const dir = tempDir('procmgr-spool-');
  dirs.push(dir);
  return join(dir, 'p.stdout');
}

function reader(path: string, resume = false): SpoolReader {
  const r = new SpoolReader({ path, clock: realClock, resume });
  readers.push(r);
  return r;
}

/** Everything `r` delivers, as one string, as it comes. */
function collect(r: SpoolReader): { text: () => string; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  r.on('data', (c: Buffer) => chunks.push(c));
  return { text: () => Buffer.concat(chunks).toString(), ended: new Promise((resolve) => r.once('end', resolve)) };
}

describe('SpoolReader', () => {
  it('delivers what is in the spool and what is appended later, in order, and ends after finish', async () => {
    const path = spoolPath();
    const fd = createSpool(path);
    writeSync(fd, 'one\n');
    const got = collect(reader(path));
    await eventually('first line', () => got.text() === 'one\n');
    for (let i = 0; i < 50; i++) writeSync(fd, `line ${i}\n`);
    await eventually('appended lines', () => got.text().endsWith('line 49\n'));
    writeSync(fd, 'last, no newline');
    closeSync(fd);
    readers[0]!.finish();
    await got.ended;
    expect(got.text()).toBe(`one\n${Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join('')}last, no newline`);
  });

  it('truncates a spool it has read to the end once it is big, and reads on from its start', async () => {
    const path = spoolPath();
    const fd = createSpool(path);
    const big = 'x'.repeat(1023) + '\n';
    for (let i = 0; i < SPOOL_TRUNCATE_BYTES / 1024 + 1; i++) writeSync(fd, big);
    const got = collect(reader(path));
    await eventually('truncated', () => got.text().length > SPOOL_TRUNCATE_BYTES && statSync(path).size === 0);
    writeSync(fd, 'after\n'); // O_APPEND: lands at the new end, 0
    await eventually('read after the truncation', () => got.text().endsWith(`${big}after\n`));
    closeSync(fd);
  });

  it('drops what it is too far behind on, counts it, and reads what comes after', async () => {
    const path = spoolPath();
    const fd = createSpool(path);
    const block = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < SPOOL_BEHIND_LIMIT_BYTES / block.length + 4; i++) writeSync(fd, block);
    const r = reader(path);
    const drops: number[] = [];
    r.on('drop', (n: number) => drops.push(n));
    const got = collect(r);
    await eventually('a drop', () => drops.length === 1);
    expect(drops[0]).toBeGreaterThan(SPOOL_BEHIND_LIMIT_BYTES);
    expect(r.dropped).toBe(drops[0]);
    writeSync(fd, '\nfresh\n');
    await eventually('fresh output', () => got.text().endsWith('fresh\n'));
    expect(got.text().length + drops[0]!).toBeLessThanOrEqual(SPOOL_BEHIND_LIMIT_BYTES + 4 * block.length + 7);
    closeSync(fd);
  });

  it('saves how far it read; a resumed reader reports it as replayBytes (zero when the spool was truncated since)', async () => {
    const path = spoolPath();
    closeSync(createSpool(path));
    appendFileSync(path, 'a\nb\n');
    const got = collect(reader(path));
    await eventually('read', () => got.text() === 'a\nb\n');
    await eventually('position saved', () => existsSync(`${path}.pos`) && readFileSync(`${path}.pos`, 'utf8').trim() === '4', 5_000);
    appendFileSync(path, 'c\n');
    expect(reader(path, true).replayBytes).toBe(4);
    expect(reader(path).replayBytes).toBe(0); // a new run's reader replays nothing
    writeFileSync(path, 'z\n'); // shorter than the saved position: truncated after it was saved
    expect(reader(path, true).replayBytes).toBe(0);
    removeSpool(path);
    expect([existsSync(path), existsSync(`${path}.pos`)]).toEqual([false, false]);
    expect(() => reader(path)).toThrow(/ENOENT/);
  });
});

describe('LogCapture.attachSpool', () => {
  it('puts the replayed part into the buffer only; followers and the file get what comes after', async () => {
    const path = spoolPath();
    const file = join(path, '..', 'out.log');
    closeSync(createSpool(path));
    writeFileSync(`${path}.pos`, String(4).padStart(20, ' '));
    appendFileSync(path, 'a\nb\nc\nd');
    const capture = new LogCapture({ id: 'p', logger: silentLogger, clock: realClock, spec: { file, maxSize: 2 ** 20, maxFiles: 1, bufferLines: 100, bufferSize: 2 ** 20, forward: false } });
    const followed: LogLine[] = [];
    capture.subscribe((l) => followed.push(l));
    const r = reader(path, true);
    const done = capture.attachSpool(r, 'stdout');
    r.finish();
    await done;
    await capture.close();
    expect(capture.lines().map((l) => l.line)).toEqual(['a', 'b', 'c', 'd']);
    expect(followed.map((l) => l.line)).toEqual(['c', 'd']);
    expect(readFileSync(file, 'utf8')).toBe('c\nd\n');
  });
});
