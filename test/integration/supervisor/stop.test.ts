import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ownChild, type ProcessHandle } from '../../../src/supervisor/handle.js';
import { isAlive, readStat } from '../../../src/supervisor/proc.js';
import { findMarked, newRunMark, RUN_MARK_VAR } from '../../../src/supervisor/run-mark.js';
import { killLeftovers, stopProcess, type StopProgress } from '../../../src/supervisor/signals.js';
import { FakeClock, realClock } from '../../../src/util/index.js';
import { NODE, fixture, supervised } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';

const children: ChildProcess[] = [];
/** Processes outside the children's groups, killed after a test that failed before procmgr killed them. */
const strays: number[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) process.kill(-(c.pid ?? 0), 'SIGKILL');
  for (const pid of strays.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
});

/**
 * `sh -c script` in its own group with `mark` in its environment; resolves with the child and
 * the pid of the double-forked process the script prints (in a session of its own, re-parented
 * away from the leader, so only the mark ties it to the run).
 */
async function markedRun(mark: string, script: string): Promise<{ child: ChildProcess; h: ProcessHandle; escaped: number }> {
  const child = spawn('sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, [RUN_MARK_VAR]: mark } });
  children.push(child);
  const h = ownChild(child, realClock, { runMark: mark }); // before the leader can exit
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  const escaped = Number(await eventually('the escaped pid', () => /^(\d+)\n/.exec(out)?.[1]));
  strays.push(escaped);
  await eventually('the escaped one exec\'d sleep', () => readStat(escaped)?.comm === 'sleep');
  return { child, h, escaped };
}

// The escaped process ignores SIGTERM (kept across exec) and prints its pid before exec'ing sleep.
const ESCAPE = `setsid -f sh -c 'trap "" TERM; echo $$; exec sleep 1000'`;

describe('killMode tree: the run mark', () => {
  it('findMarked finds the processes with the mark, outside the group too, and no others', async () => {
    const mark = newRunMark();
    const { child, escaped } = await markedRun(mark, `${ESCAPE}; exec sleep 1000`);
    const other = await markedRun(newRunMark(), `${ESCAPE}; exec sleep 1000`);
    const pids = (await findMarked(mark)).map((s) => s.pid).sort((a, b) => a - b);
    expect(pids).toEqual([child.pid ?? 0, escaped].sort((a, b) => a - b));
    expect(pids).not.toContain(other.escaped);
    // Nothing older than the leader is a descendant: a later start bound skips them all.
    const leaderStart = readStat(child.pid ?? 0)?.startTimeTicks ?? 0;
    expect(await findMarked(mark, Math.max(leaderStart, readStat(escaped)?.startTimeTicks ?? 0) + 1)).toEqual([]);
    expect(await findMarked('')).toEqual([]);
  });

  it('a stop whose leader exits at once still waits for a marked descendant and kills it at the grace', async () => {
    const mark = newRunMark();
    const { h, escaped } = await markedRun(mark, `${ESCAPE}; exec sleep 1000`);
    const t0 = realClock.now();
    await expect(stopProcess(h, { signal: 'SIGTERM', graceMs: 500, clock: realClock, tree: true })).resolves.toBe(true);
    expect(realClock.now() - t0).toBeGreaterThanOrEqual(450);
    expect(h.exit?.signal).toBe('SIGTERM'); // the leader went at the stop signal
    expect(isAlive(escaped)).toBe(false);
  });

  it('without tree, the same stop leaves the marked descendant alone', async () => {
    const mark = newRunMark();
    const { h, escaped } = await markedRun(mark, `${ESCAPE}; exec sleep 1000`);
    await expect(stopProcess(h, { signal: 'SIGTERM', graceMs: 500, clock: realClock })).resolves.toBe(false);
    expect(isAlive(escaped)).toBe(true);
  });

  it('killLeftovers, after the leader exited by itself, kills what carries its mark', async () => {
    const mark = newRunMark();
    const { child, h, escaped } = await markedRun(mark, ESCAPE);
    await eventually('the leader exited', () => h.exit);
    expect(readStat(escaped)?.ppid).not.toBe(child.pid);
    await killLeftovers(h);
    await eventually('the escaped one gone', () => !isAlive(escaped));
  });
});

/** ignore-term.mjs in its own group, with its stdout collected. */
async function stubborn(): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(NODE, [fixture('ignore-term.mjs')], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  await eventually('ready', () => out.includes('ready'));
  return { child, out: () => out };
}

describe('stopProcess across aborted calls', () => {
  it('resumes the same stop: no second stop signal, and the grace counts from the first one', async () => {
    const { child, out } = await stubborn();
    const h = ownChild(child, realClock);
    const progress: StopProgress = { signalledAt: undefined, escaped: [] };
    const call = new AbortController();
    const first = stopProcess(h, { signal: 'SIGTERM', graceMs: 60_000, clock: realClock, abort: call.signal, progress });
    await eventually('the stop signal', () => out().includes('got SIGTERM'));
    call.abort(new Error('call timed out'));
    await expect(first).rejects.toThrow('call timed out');
    expect(progress.signalledAt).toBeDefined();
    expect(h.exit).toBeUndefined(); // aborting the call killed nothing

    // The grace ran out while nobody was waiting: the next call kills at once instead of waiting 60 s more.
    progress.signalledAt = realClock.now() - 60_000;
    await expect(stopProcess(h, { signal: 'SIGTERM', graceMs: 60_000, clock: realClock, progress })).resolves.toBe(true);
    expect(h.exit?.signal).toBe('SIGKILL');
    expect(out().match(/got SIGTERM/g)).toHaveLength(1);
  });

  it('without a shared progress every call starts a stop of its own (the old behaviour, kept for one-shot callers)', async () => {
    const { child, out } = await stubborn();
    const h = ownChild(child, realClock);
    for (let i = 0; i < 2; i++) {
      const call = new AbortController();
      const p = stopProcess(h, { signal: 'SIGTERM', graceMs: 60_000, clock: realClock, abort: call.signal });
      await eventually(`stop signal ${i + 1}`, () => (out().match(/got SIGTERM/g) ?? []).length === i + 1);
      call.abort(new Error('call timed out'));
      await expect(p).rejects.toThrow('call timed out');
    }
    await expect(stopProcess(h, { signal: 'SIGTERM', graceMs: 0, clock: realClock })).resolves.toBe(true);
  });
});

describe('stopProcess on a fake clock', () => {
  it('records signalledAt when the stop signal goes out, and the grace runs from there', async () => {
    const { child, out } = await stubborn();
    const clock = new FakeClock();
    const h = ownChild(child, clock);
    const progress: StopProgress = { signalledAt: undefined, escaped: [] };
    const t0 = clock.now();
    const stopping = stopProcess(h, { signal: 'SIGTERM', graceMs: 1_000, clock, progress });
    // Sent before stopProcess first yields: nothing queued for later, so the stamp is the signal's time.
    expect(progress.signalledAt).toBe(t0);
    await eventually('the stop signal', () => out().includes('got SIGTERM'));
    await clock.tick(999);
    expect(h.exit).toBeUndefined(); // still inside the grace
    await clock.tick(1);
    await eventually('killed at the grace', () => h.exit);
    expect(h.exit?.signal).toBe('SIGKILL');
    // The wait after SIGKILL polls the group on the same clock until it is gone.
    let done = false;
    void stopping.then(() => (done = true));
    for (let i = 0; i < 100 && !done; i++) await clock.tick(20);
    await expect(stopping).resolves.toBe(true);
    expect(progress.signalledAt).toBe(t0); // the SIGKILL does not move it
  });
});

describe('a restart whose stop outlasts the engine call', () => {
  it('reaches SIGKILL at the grace even when each sync call is cut off earlier', async () => {
    const h = supervised({ manager: { callTimeoutMs: 300, transientRetryMs: 50 } });
    try {
      const spec = { command: NODE, args: [fixture('ignore-term.mjs')], stopGracePeriod: '1s' };
      h.create('stubborn', spec);
      const first = await h.running('stubborn');
      await eventually('its SIGTERM handler', () => h.supervisor.logs('stubborn').some((l) => l.line === 'ready'));
      // A changed spec makes the sync stop the old run; every call is aborted after 300 ms.
      h.manager.updateProcess({ id: 'stubborn', type: 'update', config: { ...spec, env: { V: '2' } } });
      await eventually('the old run killed and a new one running', () => h.pid('stubborn') !== first && h.state('stubborn') === 'Running' && h.pid('stubborn'), 15_000);
      const exit = h.of('exited', 'stubborn')[0];
      expect(exit?.pid).toBe(first);
      expect(exit?.signal).toBe('SIGKILL');
    } finally {
      await h.close();
    }
  });
});
