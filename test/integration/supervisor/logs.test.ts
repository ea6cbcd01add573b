import { spawn } from 'node:child_process';
import { killChildGroups } from '../../helpers/leaks.js';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoggingSpec } from '../../../src/config/index.js';
import { LogCapture, RotatingFile } from '../../../src/supervisor/logs/index.js';
import type { LogFileError } from '../../../src/supervisor/logs/index.js';
import { realClock, silentLogger } from '../../../src/util/index.js';

const children: ChildProcess[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'procmgr-logs-'));
  dirs.push(dir);
  return dir;
}

/** Runs `node -e code` in its own group with piped output, captured by `cap`; resolves when both streams ended. */
function run(cap: LogCapture, code: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', code], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return Promise.all([cap.attach(child.stdout, 'stdout'), cap.attach(child.stderr, 'stderr')]).then(() => undefined);
}

function spec(over: Partial<LoggingSpec> = {}): LoggingSpec {
  return { maxSize: 10 * 2 ** 20, maxFiles: 3, bufferLines: 1_000, bufferSize: 2 ** 20, forward: true, ...over };
}

afterEach(async () => {
  await killChildGroups(children);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('LogCapture with a real child', () => {
  it('captures stdout and stderr line by line, the last line without a newline too', async () => {
    const dir = tempDir();
    const cap = new LogCapture({ id: 'p', logger: silentLogger, clock: realClock, spec: spec({ file: 'sub/out.log' }), cwd: dir });
    await run(
      cap,
      `process.stdout.write('out 1\\nout 2\\r\\n'); process.stderr.write('err 1\\n'); process.stdout.write('h\\u00e9 \\u{1F600} last')`,
    );
    await cap.close();
    const lines = cap.lines();
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual(['out 1', 'out 2', 'hé 😀 last']);
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(['err 1']);
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4]);
    expect(cap.filePath).toBe(join(dir, 'sub/out.log'));
    expect(readFileSync(join(dir, 'sub/out.log'), 'utf8').split('\n').sort()).toEqual(['', 'err 1', 'hé 😀 last', 'out 1', 'out 2']);
  });

  it('rotates the file by size, keeping at most maxFiles old files with contiguous content', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.log');
    const cap = new LogCapture({ id: 'p', logger: silentLogger, clock: realClock, spec: spec({ file, maxSize: 100, maxFiles: 2 }) });
    // 50 records of 8 bytes ("line-NN\n"): 12 fit in 100 bytes, so 5 files are written and 3 kept.
    await run(cap, `for (let i = 0; i < 50; i++) process.stdout.write('line-' + String(i).padStart(2, '0') + '\\n')`);
    await cap.close();
    const read = (p: string): string[] => readFileSync(p, 'utf8').split('\n').slice(0, -1);
    const expected = Array.from({ length: 50 }, (_, i) => `line-${String(i).padStart(2, '0')}`);
    expect(read(file)).toEqual(expected.slice(48));
    expect(read(`${file}.1`)).toEqual(expected.slice(36, 48));
    expect(read(`${file}.2`)).toEqual(expected.slice(24, 36));
    expect(existsSync(`${file}.3`)).toBe(false);
  });
});

describe('RotatingFile', () => {
  it('appends to an existing file and rotates it once full', async () => {
    const file = join(tempDir(), 'a.log');
    writeFileSync(file, 'old\n');
    const f = new RotatingFile({ path: file, maxSize: 10, maxFiles: 1, logger: silentLogger });
    f.write('new\n');
    await f.flush();
    expect(readFileSync(file, 'utf8')).toBe('old\nnew\n');
    f.write('third\n');
    await f.close();
    expect(readFileSync(file, 'utf8')).toBe('third\n');
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('old\nnew\n');
    f.write('after close\n');
    await f.close();
    expect(readFileSync(file, 'utf8')).toBe('third\n');
  });

  it('truncates instead of rotating with maxFiles 0, and gives an over-long record a file of its own', async () => {
    const file = join(tempDir(), 'b.log');
    const f = new RotatingFile({ path: file, maxSize: 8, maxFiles: 0, logger: silentLogger });
    for (const r of ['aaa\n', 'bbb\n', 'ccc\n']) f.write(r);
    await f.flush();
    expect(readFileSync(file, 'utf8')).toBe('ccc\n');
    f.write('a record longer than eight bytes\n');
    await f.flush();
    expect(readFileSync(file, 'utf8')).toBe('a record longer than eight bytes\n');
    await f.close();
    expect(existsSync(`${file}.1`)).toBe(false);
  });

  it('reports a failure to its callback without throwing, and recovers when the path becomes writable', async () => {
    const dir = tempDir();
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'a file where a directory is needed');
    const errors: LogFileError[] = [];
    const f = new RotatingFile({ path: join(blocker, 'c.log'), maxSize: 100, maxFiles: 1, logger: silentLogger, onError: (e) => errors.push(e) });
    f.write('lost\n');
    await f.flush();
    expect(errors.map((e) => e.code)).toEqual(['LOG_FILE']);
    expect(errors[0]?.details).toEqual({ file: join(blocker, 'c.log') });
    rmSync(blocker);
    f.write('kept\n');
    await f.close();
    expect(readFileSync(join(blocker, 'c.log'), 'utf8')).toBe('kept\n');
  });
});
