import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readStat } from '../../../src/supervisor/proc.js';
import { NODE, fixture, supervised } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';
import { MARK_VAR, testMark } from '../../helpers/leaks.js';
import { recordingLogger, type LogRecord } from '../../helpers/recording-logger.js';

let h: ReturnType<typeof supervised>;
afterEach(async () => h.close());

function environ(pid: number): Record<string, string> {
  return Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

describe('the spec is applied to the process', () => {
  it('env is merged with procmgr’s own by default, replaced with inheritEnv: false', async () => {
    h = supervised();
    h.create('merged', { command: 'sleep', args: ['1000'], env: { GREETING: 'hello' } });
    h.create('replaced', { command: '/usr/bin/sleep', args: ['1000'], inheritEnv: false, env: { GREETING: 'only', [MARK_VAR]: testMark() } });
    const merged = environ(await h.running('merged'));
    const replaced = environ(await h.running('replaced'));
    expect(merged.GREETING).toBe('hello');
    expect(merged.PATH).toBe(process.env.PATH);
    expect(replaced).toEqual({ GREETING: 'only', [MARK_VAR]: testMark() });
  });

  it('cwd, user nobody and umask are applied', async () => {
    h = supervised();
    const dir = h.dir();
    chmodSync(dir, 0o777);
    h.create('as-nobody', {
      command: 'sh', args: ['-c', 'touch made-here; exec sleep 1000'], cwd: dir, user: 'nobody', umask: '077',
    });
    const pid = await h.running('as-nobody');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+65534\s/m);
    expect(status).toMatch(/^Gid:\s+65534\s/m);
    await eventually('file made', () => {
      try {
        return statSync(join(dir, 'made-here'));
      } catch {
        return undefined;
      }
    });
    const made = statSync(join(dir, 'made-here'));
    expect(made.uid).toBe(65534);
    expect(made.mode & 0o777).toBe(0o600); // 666 & ~077
    await eventually('exec of sleep', () => readStat(pid)?.comm === 'sleep');
  });

  it('shell: true runs a command line through /bin/sh with args as $1…', async () => {
    h = supervised();
    h.create('shell', { command: 'echo "$1-$2" && exec sleep 1000', args: ['a b', 'c'], shell: true });
    await h.running('shell');
    await eventually('echo', () => h.supervisor.logs('shell').some((l) => l.line === 'a b-c'));
  });
});

describe('bad specs fail only their own process', () => {
  it.each([
    ['missing command', { args: ['x'] }, /INVALID_CONFIG|command: required for a managed process/],
    ['executable not found', { command: 'no-such-binary-procmgr' }, /command: "no-such-binary-procmgr" was not found on PATH/],
    ['not executable', { command: '$DIR/plain.txt' }, /command: .*plain.txt is not executable/],
    ['unknown user', { command: 'sleep', args: ['1'], user: 'no-such-user-procmgr' }, /user: no user named "no-such-user-procmgr"/],
    ['cwd missing', { command: 'sleep', args: ['1'], cwd: '/no/such/dir' }, /cwd: \/no\/such\/dir does not exist/],
  ])('%s → Failed with an error that says which and why; the others keep running', async (_name, spec, message) => {
    const records: LogRecord[] = [];
    h = supervised({ supervisor: { logger: recordingLogger(records) } });
    const dir = h.dir();
    writeFileSync(join(dir, 'plain.txt'), 'not a program');
    const resolved = JSON.parse(JSON.stringify(spec).replace('$DIR', dir)) as object;
    h.create('good', { command: 'sleep', args: ['1000'] });
    h.create('bad', resolved);
    const goodPid = await h.running('good');
    await eventually('Failed', () => h.state('bad') === 'Failed');
    expect(h.supervisor.status('bad')?.lastError).toMatch(message);
    expect(String(h.manager.getStatus('bad')?.lastError)).toMatch(message);
    expect(h.manager.getStatus('bad')?.healthy).toBe(false);
    // procmgr's log says it too, once however often the start is retried.
    await eventually('a second attempt', () => (h.manager.getStatus('bad')?.errorCount ?? 0) >= 2);
    const said = records.filter((r) => r.level === 'error' && r.obj.process === 'bad');
    expect(said.map((r) => String((r.obj.err as Error | undefined)?.message))).toEqual([expect.stringMatching(message)]);
    expect(h.pid('good')).toBe(goodPid);
    expect(h.state('good')).toBe('Running');
  });

  it('a bad update keeps the running process on its last good spec; a fixed one applies', async () => {
    h = supervised();
    h.create('svc', { command: 'sleep', args: ['1000'] });
    const pid = await h.running('svc');
    h.manager.updateProcess({ id: 'svc', type: 'update', config: { command: 'sleep', restart: { policy: 'sometimes' } } as never });
    await eventually('error recorded', () => h.supervisor.status('svc')?.lastError);
    expect(h.supervisor.status('svc')?.lastError).toMatch(/restart\.policy/);
    expect(h.pid('svc')).toBe(pid);
    expect(h.state('svc')).toBe('Running');
    h.manager.updateProcess({ id: 'svc', type: 'update', config: { command: 'sleep', args: ['999'] } });
    await eventually('restarted with the new spec', () => h.pid('svc') !== pid && h.state('svc') === 'Running');
    expect(readFileSync(`/proc/${h.pid('svc')}/cmdline`, 'utf8')).toBe('sleep\x00999\x00');
    expect(h.of('exited', 'svc')[0]?.reason).toBe('spec changed');
  });

  it('a missing executable recovers once it appears', async () => {
    h = supervised();
    const dir = h.dir();
    const exe = join(dir, 'later.sh');
    h.create('later', { command: exe });
    await eventually('Failed', () => h.state('later') === 'Failed');
    mkdirSync(dir, { recursive: true });
    writeFileSync(exe, '#!/bin/sh\nexec sleep 1000\n', { mode: 0o755 });
    await h.running('later');
  });
});

describe('output', () => {
  it('every line is a pino record with process and stream; the partial last line is flushed at exit; files rotate', async () => {
    const records: Array<Record<string, unknown>> = [];
    const logger = {
      trace: () => undefined, debug: () => undefined, warn: () => undefined, error: () => undefined,
      info: (obj: Record<string, unknown>, msg?: string) => records.push({ ...obj, msg }),
      child: () => logger,
    };
    h = supervised({ supervisor: { logger } });
    const dir = h.dir();
    h.create('chatty', {
      command: NODE, args: [fixture('chatty.mjs'), '40'], restart: { policy: 'never' },
      logging: { file: 'out.log', maxSize: 200, maxFiles: 2, bufferLines: 10 }, cwd: dir,
    });
    await eventually('Finished', () => h.manager.isFinished('chatty'));
    const lines = records.filter((r) => r.stream !== undefined);
    expect(lines.filter((r) => r.stream === 'stdout')).toHaveLength(41);
    expect(lines.filter((r) => r.stream === 'stderr')).toHaveLength(40);
    expect(lines[0]).toMatchObject({ process: 'chatty' });
    expect(lines.some((r) => r.msg === 'tail without newline' && r.stream === 'stdout')).toBe(true);
    // the ring buffer keeps the last 10
    const buffered = h.supervisor.logs('chatty');
    expect(buffered).toHaveLength(10);
    expect(buffered.some((l) => l.line === 'tail without newline')).toBe(true);
    // rotation: out.log, out.log.1, out.log.2 and nothing more, each within the size
    const files = ['out.log', 'out.log.1', 'out.log.2'].map((f) => statSync(join(dir, f)));
    for (const f of files) expect(f.size).toBeLessThanOrEqual(200);
    expect(() => statSync(join(dir, 'out.log.3'))).toThrow();
    expect(readFileSync(join(dir, 'out.log'), 'utf8')).toMatch(/tail without newline\n$/);
  });
});
