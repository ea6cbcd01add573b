import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, readStat } from '../../../src/supervisor/proc.js';
import { configHash } from '../../../src/supervisor/index.js';
import { parseProcessSpec, type ProcessSpecInput } from '../../../src/config/index.js';
import { NODE, fixture, supervised } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';

let h: ReturnType<typeof supervised>;
let outside: ChildProcess | undefined;
afterEach(async () => {
  outside?.kill('SIGKILL');
  await h.close();
});

/** Starts a supervisor in another OS process; resolves with the pids it reports once all run. */
async function supervisorProcess(stateDir: string, specs: Record<string, ProcessSpecInput>): Promise<Map<string, number>> {
  outside = spawn(NODE, ['--import', 'tsx', fixture('supervisor-main.ts'), stateDir, JSON.stringify(specs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pids = new Map<string, number>();
  for await (const line of createInterface({ input: outside.stdout! })) {
    const [word, id, pid] = line.split(' ');
    if (word === 'running' && id) pids.set(id, Number(pid));
    if (pids.size === Object.keys(specs).length) break;
  }
  return pids;
}

async function killSupervisor(): Promise<void> {
  const p = outside!;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
}

const sleeper: ProcessSpecInput = { command: 'sleep', args: ['1000'], stopGracePeriod: '2s' };

describe('reattach after the supervisor is killed with SIGKILL', () => {
  it('adopts the same pids, spawns nothing, and still detects the exit and stops on request', async () => {
    h = supervised();
    const stateDir = h.dir();
    const before = await supervisorProcess(stateDir, { a: sleeper, b: sleeper });
    await killSupervisor();
    for (const pid of before.values()) expect(isAlive(pid)).toBe(true); // survived their supervisor

    const next = supervised({ supervisor: { stateDir } });
    try {
      next.create('a', sleeper);
      next.create('b', sleeper);
      await eventually('both reattached', () => next.of('reattached').length === 2);
      expect(next.pid('a')).toBe(before.get('a'));
      expect(next.pid('b')).toBe(before.get('b'));
      expect(next.of('started')).toHaveLength(0);
      expect(next.supervisor.status('a')?.adopted).toBe(true);
      // Not our child, yet its exit is seen (by polling /proc) and the policy restarts it.
      process.kill(before.get('a')!, 'SIGKILL');
      await eventually('a restarted', () => next.of('started', 'a').length === 1);
      expect(next.pid('a')).not.toBe(before.get('a'));
      // Stopping an adopted process signals its group.
      await next.manager.terminate('b');
      expect(isAlive(before.get('b')!)).toBe(false);
    } finally {
      await next.close();
    }
  });

  it('killMode tree: the run mark is kept in the state file, so an adopted run that exits takes its escaped descendant along', async () => {
    h = supervised();
    const stateDir = h.dir();
    const pidFile = join(h.dir(), 'escaped.pid');
    // The escaped process writes its pid and leaves the leader's tree (setsid -f forks, its parent exits).
    const script = `setsid -f sh -c 'echo $$ > "$0"; exec sleep 1000' "$1"; exec sleep 1000`;
    const tree: ProcessSpecInput = { command: 'sh', args: ['-c', script, 'sh', pidFile], killMode: 'tree', stopGracePeriod: '2s' };
    const before = await supervisorProcess(stateDir, { t: tree });
    const escaped = Number(await eventually('the escaped pid', () => existsSync(pidFile) && /^(\d+)\n/.exec(readFileSync(pidFile, 'utf8'))?.[1]));
    await killSupervisor();

    const next = supervised({ supervisor: { stateDir } });
    try {
      next.create('t', tree);
      await eventually('reattached', () => next.of('reattached').length === 1);
      process.kill(before.get('t')!, 'SIGKILL'); // the leader alone: it "exits by itself"
      await eventually('the exit seen', () => next.of('exited', 't').length === 1);
      await eventually(`escaped pid ${escaped} gone`, () => !isAlive(escaped), 5_000);
    } finally {
      if (isAlive(escaped)) process.kill(escaped, 'SIGKILL');
      await next.close();
    }
  });

  it('reconcileStateDir stops what was left running for ids no longer wanted, and keeps the rest', async () => {
    h = supervised();
    const stateDir = h.dir();
    const before = await supervisorProcess(stateDir, { kept: sleeper, removed: sleeper });
    await killSupervisor();
    const next = supervised({ supervisor: { stateDir } });
    try {
      expect(await next.supervisor.reconcileStateDir(['kept'])).toEqual(['removed']);
      expect(isAlive(before.get('removed')!)).toBe(false);
      expect(next.of('reattachRefused')).toMatchObject([{ id: 'removed', reason: 'removed' }]);
      expect(isAlive(before.get('kept')!)).toBe(true);
      expect(await next.supervisor.reconcileStateDir(['kept'])).toEqual([]); // idempotent
      next.create('kept', sleeper);
      await eventually('kept reattached', () => next.of('reattached', 'kept').length === 1);
      expect(next.pid('kept')).toBe(before.get('kept'));
    } finally {
      await next.close();
    }
  });

  it('an adopted process with a startup probe goes Starting → Running and can be stopped', async () => {
    h = supervised();
    const stateDir = h.dir();
    const probed: ProcessSpecInput = { ...sleeper, probes: { startup: { exec: { command: 'true' }, interval: '50ms' } } };
    const before = await supervisorProcess(stateDir, { a: probed });
    await killSupervisor();
    const next = supervised({ supervisor: { stateDir } });
    try {
      next.create('a', probed);
      expect(await next.running('a')).toBe(before.get('a'));
      expect(next.of('state', 'a').map((e) => e.to)).toEqual(['Starting', 'Running']);
      await next.manager.terminate('a');
      expect(isAlive(before.get('a')!)).toBe(false);
    } finally {
      await next.close();
    }
  });

  it('refuses a changed config hash: the old process is stopped and a new one started', async () => {
    h = supervised();
    const stateDir = h.dir();
    const before = await supervisorProcess(stateDir, { a: sleeper });
    await killSupervisor();
    const next = supervised({ supervisor: { stateDir } });
    try {
      next.create('a', { ...sleeper, args: ['999'] });
      const pid = await next.running('a');
      expect(pid).not.toBe(before.get('a'));
      expect(next.of('reattachRefused', 'a')).toMatchObject([{ reason: 'configChanged', pid: before.get('a') }]);
      expect(isAlive(before.get('a')!)).toBe(false);
      expect(next.of('reattached')).toHaveLength(0);
      // The config changed while procmgr was away: a deploy, not a crash.
      expect(next.supervisor.status('a')).toMatchObject({ restarts: 0, requestedRestarts: 1 });
    } finally {
      await next.close();
    }
  });

  it('a process that died while no supervisor watched is started again and counted as a restart', async () => {
    h = supervised();
    const stateDir = h.dir();
    const before = await supervisorProcess(stateDir, { a: sleeper });
    await killSupervisor();
    const old = before.get('a')!;
    process.kill(old, 'SIGKILL');
    await eventually('a gone', () => !isAlive(old));
    const next = supervised({ supervisor: { stateDir } });
    try {
      next.create('a', sleeper);
      // 'started' follows the state file's write, so it can come after Running.
      const started = await eventually('a started', () => next.of('started', 'a')[0]);
      expect(started).toMatchObject({ restarts: 1, requestedRestarts: 0 });
      expect(started.pid).not.toBe(old);
      expect(next.of('reattachRefused', 'a')).toMatchObject([{ reason: 'gone' }]);
      expect(next.of('state', 'a').find((e) => e.to === 'Starting')?.reason).toBe('restart');
    } finally {
      await next.close();
    }
  });

  it('a restart: never job that ended while no supervisor watched is not run again (Failed: its exit status is unknown)', async () => {
    h = supervised();
    const stateDir = h.dir();
    const dir = h.dir();
    const job: ProcessSpecInput = {
      command: 'sh',
      args: ['-c', 'while [ ! -e "$DIR/go" ]; do sleep 0.02; done; echo ran >> "$DIR/runs"'],
      env: { DIR: dir },
      restart: { policy: 'never' },
    };
    const before = await supervisorProcess(stateDir, { job });
    await killSupervisor();
    writeFileSync(join(dir, 'go'), '');
    await eventually('job done', () => !isAlive(before.get('job')!));
    const next = supervised({ supervisor: { stateDir } });
    try {
      next.create('job', job);
      await eventually('Finished', () => next.manager.isFinished('job'));
      expect(next.of('started', 'job')).toHaveLength(0);
      expect(readFileSync(join(dir, 'runs'), 'utf8')).toBe('ran\n');
      expect(next.state('job')).toBe('Failed');
      expect(next.supervisor.status('job')?.lastExit).toMatchObject({ pid: before.get('job'), code: null });
      expect(next.supervisor.status('job')?.lastExit?.reason).toMatch(/procmgr was down/);
    } finally {
      await next.close();
    }
  });

  it.each([
    ['an older state file (no requestedRestarts)', { restarts: 2 }, { restarts: 3, requestedRestarts: 0 }],
    ['a state file with both counters', { restarts: 2, requestedRestarts: 5 }, { restarts: 3, requestedRestarts: 5 }],
    ['a state file with counters that are not counts', { restarts: -1, requestedRestarts: 'many' }, { restarts: 1, requestedRestarts: 0 }],
  ] as const)('the counters carry on from %s', async (_, counters, expected) => {
    h = supervised();
    const stateDir = h.dir();
    // A run recorded by an earlier supervisor, gone since.
    const dead = spawn('true', { stdio: 'ignore' });
    const ticks = readStat(dead.pid!)?.startTimeTicks ?? 1;
    await new Promise((r) => dead.once('exit', r));
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(`${stateDir}/a.json`, JSON.stringify({ id: 'a', pid: dead.pid, startTimeTicks: ticks, configHash: configHash(parseProcessSpec(sleeper)), ...counters }));
    const next = supervised({ supervisor: { stateDir } });
    try {
      next.create('a', sleeper);
      await next.running('a');
      expect(next.supervisor.status('a')).toMatchObject(expected);
    } finally {
      await next.close();
    }
  });

  it('refuses a reused pid and never signals it', async () => {
    h = supervised();
    const stateDir = h.dir();
    // A process that is not ours any more, but has the recorded pid: same pid, other start time.
    const stranger = spawn('sleep', ['1000'], { stdio: 'ignore' });
    const strangerStart = readStat(stranger.pid!)!.startTimeTicks;
    mkdirSync(stateDir, { recursive: true });
    const record = { id: 'a', pid: stranger.pid, startTimeTicks: strangerStart - 1, configHash: configHash(parseProcessSpec(sleeper)) };
    writeFileSync(`${stateDir}/a.json`, JSON.stringify(record));
    const next = supervised({ supervisor: { stateDir } });
    try {
      next.create('a', sleeper);
      const pid = await next.running('a');
      expect(pid).not.toBe(stranger.pid);
      expect(next.of('reattachRefused', 'a')).toMatchObject([{ reason: 'pidReused' }]);
      await next.manager.terminate('a');
      expect(isAlive(stranger.pid!, strangerStart)).toBe(true); // untouched
    } finally {
      stranger.kill('SIGKILL');
      await next.close();
    }
  });
});
