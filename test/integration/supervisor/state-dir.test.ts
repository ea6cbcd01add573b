import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessSpecInput } from '../../../src/config/index.js';
import { isAlive } from '../../../src/supervisor/proc.js';
import { NODE, fixture, supervised } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';
import { recordingLogger, type LogRecord } from '../../helpers/recording-logger.js';

/*
 * The state dir against real processes (issue #15): ids of any valid length and alphabet get a
 * state file (so a restarted supervisor reattaches instead of running a second copy), a failed
 * write is logged and shown, and a finished job is remembered across a restart.
 */

const open: Array<ReturnType<typeof supervised>> = [];
let outside: ChildProcess | undefined;
/** Pids a test saw, killed at the end if a failed assertion left them running. */
const seen = new Set<number>();

afterEach(async () => {
  outside?.kill('SIGKILL');
  outside = undefined;
  for (const s of open.splice(0).reverse()) await s.close();
  for (const pid of seen) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  seen.clear();
});

/** A temp dir that outlives every supervisor of the test (each removes its own dirs on close). */
function dir(): string {
  return sup().dir();
}

function sup(opts: Parameters<typeof supervised>[0] = {}): ReturnType<typeof supervised> {
  const s = supervised(opts);
  open.push(s);
  return s;
}

/** A supervisor in another OS process (so it can be SIGKILLed); resolves with the pids it started. */
async function supervisorProcess(stateDir: string, specs: Record<string, ProcessSpecInput>): Promise<Map<string, number>> {
  const p = spawn(NODE, ['--import', 'tsx', fixture('supervisor-main.ts'), stateDir, JSON.stringify(specs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  outside = p;
  const pids = new Map<string, number>();
  for await (const line of createInterface({ input: p.stdout })) {
    const [word, id, pid] = line.split(' ');
    if (word === 'running' && id !== undefined) {
      pids.set(id, Number(pid));
      seen.add(Number(pid));
    }
    if (pids.size === Object.keys(specs).length) break;
  }
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
  return pids;
}

/** The state files of `dir` by the id inside each. */
function stateFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    out.set((JSON.parse(readFileSync(join(dir, f), 'utf8')) as { id: string }).id, f);
  }
  return out;
}

const sleeper: ProcessSpecInput = { command: 'sleep', args: ['1000'], stopGracePeriod: '2s' };

const longIds: Array<[string, string]> = [
  ['253 ASCII characters', 'a'.repeat(253)],
  ['253 × é', 'é'.repeat(253)],
  ['253 characters of emoji, CJK and accents', Array.from({ length: 253 }, (_, i) => ['😀', '漢', 'ü', '🇫', '-'][i % 5]).join('')],
  ['253 × % (each percent-encoded)', '%'.repeat(253)],
];

describe('state files for every valid id', () => {
  it.each(longIds)('%s: recorded, reattached by a second supervisor (no second copy), stopped for good', async (_name, id) => {
    expect([...id]).toHaveLength(253);
    const stateDir = dir();
    const before = await supervisorProcess(stateDir, { [id]: sleeper, short: sleeper });
    const pid = before.get(id)!;
    expect(isAlive(pid)).toBe(true);

    const files = stateFiles(stateDir);
    expect([...files.keys()].sort()).toEqual([id, 'short'].sort());
    expect(Buffer.byteLength(files.get(id)!)).toBeLessThanOrEqual(255);
    expect(files.get('short')).toBe('short.json'); // short ids keep the name they always had

    const next = sup({ supervisor: { stateDir } });
    next.create(id, sleeper);
    next.create('short', sleeper);
    await eventually('both reattached', () => next.of('reattached').length === 2);
    expect(next.pid(id)).toBe(pid);
    expect(next.of('started')).toHaveLength(0);
    expect(next.supervisor.status(id)?.adopted).toBe(true);
    await next.manager.terminate(id);
    expect(isAlive(pid)).toBe(false);
    expect(stateFiles(stateDir).has(id)).toBe(false);
  });
});

describe('a state file that cannot be written', () => {
  it('is logged with the process id and shown as lastError; the write is retried once the dir is usable', async () => {
    const records: LogRecord[] = [];
    const base = dir();
    const stateDir = join(base, 'state');
    writeFileSync(stateDir, 'a file where the state dir should be');
    const s = sup({ supervisor: { stateDir, logger: recordingLogger(records) } });
    s.create('svc', sleeper);
    const pid = await s.running('svc');
    seen.add(pid);
    await eventually('lastError', () => s.supervisor.status('svc')?.lastError);
    expect(s.supervisor.status('svc')?.lastError).toMatch(/state file/);
    const line = records.find((r) => r.level === 'error' && r.obj.process === 'svc' && /state file/.test(r.msg ?? ''));
    expect(line, JSON.stringify(records)).toBeDefined();
    // The process runs on, supervised: the failure is not the process's.
    expect(s.state('svc')).toBe('Running');
    await eventually('started', () => s.of('started', 'svc').length === 1);

    rmSync(stateDir);
    mkdirSync(stateDir);
    s.manager.updateProcess({ id: 'svc', type: 'sync' });
    await eventually('written', () => stateFiles(stateDir).has('svc'));
    await eventually('lastError cleared', () => s.supervisor.status('svc')?.lastError === undefined);
    expect(s.pid('svc')).toBe(pid);
  });
});

describe('a finished job across a supervisor restart', () => {
  const job = (marker: string, code: number, policy: 'never' | 'on-failure'): ProcessSpecInput => ({
    command: 'sh',
    args: ['-c', `echo ran >> "$MARKER"; exit ${code}`],
    env: { MARKER: marker },
    restart: { policy },
  });
  const runs = (marker: string): number => readFileSync(marker, 'utf8').split('\n').filter(Boolean).length;

  it.each([
    ['never', 0, 'Stopped'],
    ['never', 3, 'Failed'],
    ['on-failure', 0, 'Stopped'],
  ] as const)('restart %s, exit %i: not run again while its spec is unchanged (%s, last exit kept); a changed spec runs it', async (policy, code, state) => {
    const stateDir = dir();
    const marker = join(dir(), 'runs');
    const first = sup({ supervisor: { stateDir } });
    first.create('job', job(marker, code, policy));
    await eventually('first run finished', () => first.manager.isFinished('job'));
    await first.close(); // the daemon stops (gracefully) and starts again on the same state dir

    const second = sup({ supervisor: { stateDir } });
    second.create('job', job(marker, code, policy));
    await eventually('Finished', () => second.manager.isFinished('job'));
    expect(second.of('started', 'job')).toHaveLength(0);
    expect(runs(marker)).toBe(1);
    expect(second.state('job')).toBe(state);
    expect(second.supervisor.status('job')?.lastExit?.code).toBe(code);
    await second.close();

    const third = sup({ supervisor: { stateDir } });
    third.create('job', { ...job(marker, code, policy), args: ['-c', `echo ran again >> "$MARKER"; exit ${code}`] });
    await eventually('Finished', () => third.manager.isFinished('job'));
    expect(third.of('started', 'job')).toHaveLength(1);
    expect(runs(marker)).toBe(2);
  });

  it('removed from the engine (rerun, or gone from the config) and created again: it runs again', async () => {
    const stateDir = dir();
    const marker = join(dir(), 'runs');
    const first = sup({ supervisor: { stateDir } });
    first.create('job', job(marker, 0, 'never'));
    await eventually('Finished', () => first.manager.isFinished('job'));
    await first.close();

    const second = sup({ supervisor: { stateDir } });
    second.create('job', job(marker, 0, 'never'));
    await eventually('Finished', () => second.manager.isFinished('job'));
    expect(runs(marker)).toBe(1);
    // What the daemon does for an explicit start of a finished job: removed (forgotten), created anew.
    second.manager.syncKnownProcesses([]);
    second.create('job', job(marker, 0, 'never'));
    await eventually('ran again', () => runs(marker) === 2 && second.manager.isFinished('job'));
    await second.close();

    // And that run is what the next supervisor remembers.
    const third = sup({ supervisor: { stateDir } });
    third.create('job', job(marker, 0, 'never'));
    await eventually('Finished', () => third.manager.isFinished('job'));
    expect(third.of('started', 'job')).toHaveLength(0);
    expect(runs(marker)).toBe(2);
  });

  it('an always service is not a finished job: a supervisor restart runs it again', async () => {
    const stateDir = dir();
    const first = sup({ supervisor: { stateDir } });
    first.create('svc', { ...sleeper, restart: { policy: 'always' } });
    await first.running('svc');
    await first.close();
    const second = sup({ supervisor: { stateDir } });
    second.create('svc', { ...sleeper, restart: { policy: 'always' } });
    await eventually('started', () => second.of('started', 'svc').length === 1);
    expect(second.of('reattached')).toHaveLength(0);
  });
});
