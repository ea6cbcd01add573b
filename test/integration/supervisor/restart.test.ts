import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { supervised } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';

let h: ReturnType<typeof supervised>;
afterEach(async () => h.close());

const noBreaker = { maxFailures: 0 };

describe('restart policies with real crashing processes', () => {
  it('on-failure: the delay grows by the multiplier and holds at the cap', async () => {
    h = supervised();
    h.create('crasher', {
      command: 'sh', args: ['-c', 'exit 1'],
      restart: { policy: 'on-failure', delay: '50ms', multiplier: 2, maxDelay: '200ms', resetAfter: '1m', breaker: noBreaker },
    });
    await eventually('6 backoffs', () => h.of('backoff', 'crasher').length >= 6);
    expect(h.of('backoff', 'crasher').slice(0, 6).map((e) => e.delayMs)).toEqual([50, 100, 200, 200, 200, 200]);
    const starts = h.of('started', 'crasher');
    expect(new Set(starts.map((s) => s.pid)).size).toBe(starts.length); // a new process each time
    // The waits really happened: each start comes at least its delay after the exit before it.
    const states = h.of('state', 'crasher');
    const backoffAt = states.filter((s) => s.to === 'Backoff').map((s) => s.at);
    const startAt = states.filter((s) => s.to === 'Starting').map((s) => s.at).slice(1);
    [50, 100, 200, 200].forEach((d, i) => expect((startAt[i] ?? 0) - (backoffAt[i] ?? 0)).toBeGreaterThanOrEqual(d - 2));
    expect(h.supervisor.status('crasher')?.restarts).toBeGreaterThanOrEqual(5);
  });

  it.each([
    ['never', 0, 'Stopped'],
    ['never', 7, 'Failed'],
    ['on-failure', 0, 'Stopped'],
  ] as const)('%s with exit %i ends the process (%s, terminal for the engine)', async (policy, code, state) => {
    h = supervised();
    h.create('job', { command: 'sh', args: ['-c', `exit ${code}`], restart: { policy } });
    await eventually('Finished', () => h.manager.isFinished('job'));
    expect(h.state('job')).toBe(state);
    expect(h.of('started', 'job')).toHaveLength(1);
    expect(h.supervisor.status('job')?.lastExit?.code).toBe(code);
  });

  it.each(['always', 'unless-stopped'] as const)('%s restarts after a clean exit too', async (policy) => {
    h = supervised();
    h.create('loop', { command: 'sh', args: ['-c', 'exit 0'], restart: { policy, delay: '10ms', breaker: noBreaker } });
    await eventually('3 starts', () => h.of('started', 'loop').length >= 3);
    expect(h.manager.isFinished('loop')).toBe(false);
  });

  it('the breaker opens, half-opens for exactly one trial, re-opens, then closes on a healthy run', async () => {
    h = supervised();
    const flag = join(h.dir(), 'healthy');
    h.create('flaky', {
      command: 'sh', args: ['-c', 'test -f "$FLAG" && exec sleep 1000; exit 1'], env: { FLAG: flag },
      restart: { policy: 'always', delay: '10ms', multiplier: 1, resetAfter: '300ms', breaker: { maxFailures: 3, window: '10s', cooldown: '500ms' } },
    });
    await eventually('breaker open', () => h.of('breaker', 'flaky').some((e) => e.state === 'open'));
    expect(h.of('started', 'flaky')).toHaveLength(3);
    expect(h.state('flaky')).toBe('Backoff');
    expect(h.supervisor.status('flaky')?.breaker?.state).toBe('open');
    // The cooldown ends: one trial, which fails, so it opens again.
    await eventually('re-opened', () => h.of('breaker', 'flaky').filter((e) => e.state === 'open').length >= 2, 10_000);
    expect(h.of('breaker', 'flaky').map((e) => e.state)).toEqual(['open', 'halfOpen', 'open']);
    expect(h.of('started', 'flaky')).toHaveLength(4);
    writeFileSync(flag, '');
    await eventually('closed', () => h.of('breaker', 'flaky').some((e) => e.state === 'closed'), 10_000);
    expect(h.of('breaker', 'flaky').map((e) => e.state)).toEqual(['open', 'halfOpen', 'open', 'halfOpen', 'closed']);
    expect(h.of('started', 'flaky')).toHaveLength(5);
    expect(h.state('flaky')).toBe('Running');
    expect(h.supervisor.status('flaky')?.failures).toBe(0);
  });

  it('an operator start overrides an open breaker', async () => {
    h = supervised();
    h.create('looper', { command: 'sh', args: ['-c', 'exit 1'], restart: { delay: '10ms', breaker: { maxFailures: 2, window: '1m', cooldown: '1h' } } });
    await eventually('open', () => h.supervisor.status('looper')?.breaker?.state === 'open');
    await h.supervisor.stop('looper');
    await eventually('Disabled', () => h.state('looper') === 'Disabled');
    const starts = h.of('started', 'looper').length;
    await h.supervisor.start('looper');
    await eventually('started again', () => h.of('started', 'looper').length > starts);
  });

  it('an explicit stop is Disabled; unless-stopped remembers it across supervisors, always does not', async () => {
    h = supervised();
    const stateDir = h.dir();
    const first = supervised({ supervisor: { stateDir } });
    first.create('svc', { command: 'sleep', args: ['1000'], restart: { policy: 'unless-stopped' } });
    first.create('other', { command: 'sleep', args: ['1000'], restart: { policy: 'always' } });
    await first.running('svc');
    await first.running('other');
    await first.supervisor.stop('svc');
    await first.supervisor.stop('other');
    await eventually('both Disabled', () => first.state('svc') === 'Disabled' && first.state('other') === 'Disabled');
    expect(first.pid('svc')).toBeUndefined();
    await first.close();

    const second = supervised({ supervisor: { stateDir } });
    try {
      second.create('svc', { command: 'sleep', args: ['1000'], restart: { policy: 'unless-stopped' } });
      second.create('other', { command: 'sleep', args: ['1000'], restart: { policy: 'always' } });
      await second.running('other');
      await eventually('svc Disabled', () => second.state('svc') === 'Disabled');
      expect(second.of('started', 'svc')).toHaveLength(0);
      await second.supervisor.start('svc');
      await second.running('svc');
    } finally {
      await second.close();
    }
  });
});
