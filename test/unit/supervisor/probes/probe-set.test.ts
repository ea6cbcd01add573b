import { describe, expect, it } from 'vitest';
import { ProbeTimeoutError, Ticker } from '../../../../src/supervisor/probes/index.js';
import { FakeClock } from '../../../../src/util/index.js';
import { coalescedDelay } from '../../../../src/supervisor/probes/probe-set.js';
import { fail, fixture, pass, probe } from './fake-probes.js';

describe('ProbeSet timing', () => {
  it('waits initialDelay from start, then checks interval after each check finishes', async () => {
    const f = fixture({ liveness: probe('liveness', { initialDelay: 5_000, interval: 1_000 }) });
    f.behaviour.liveness = { after: 300, result: pass };
    const t0 = f.clock.now();
    f.set.start();
    await f.clock.tick(4_999);
    expect(f.calls).toEqual([]);
    await f.clock.tick(1 + 300 + 1_000 + 300 + 1_000);
    expect(f.callsOf('liveness').map((c) => c.at - t0)).toEqual([5_000, 6_300, 7_600]);
    await f.set.stop();
  });

  it('checks every startInterval until a check first succeeds, then every interval', async () => {
    const f = fixture({ readiness: probe('readiness', { interval: 1_000, startInterval: 100 }) });
    f.behaviour.readiness = fail;
    const t0 = f.clock.now();
    f.set.start();
    await f.clock.settle();
    await f.clock.tick(200);
    f.behaviour.readiness = pass;
    await f.clock.tick(100);
    expect(f.set.status.ready).toBe(true);
    f.behaviour.readiness = fail; // a later failure does not bring the short interval back
    await f.clock.tick(2_000);
    expect(f.callsOf('readiness').map((c) => c.at - t0)).toEqual([0, 100, 200, 300, 1_300, 2_300]);
    await f.set.stop();
  });

  it('without probes it is started, live and ready at once and sets no timer', async () => {
    const f = fixture({});
    f.set.start();
    expect(f.set.status).toEqual({ started: true, live: true, ready: true, probes: {} });
    expect(f.clock.pendingTimers()).toBe(0);
    await f.set.stop();
  });
});

describe('ProbeSet thresholds', () => {
  it('liveness fails after failureThreshold failures in a row, once, keeps probing, and recovers', async () => {
    const f = fixture({ liveness: probe('liveness', { failureThreshold: 3 }) });
    f.behaviour.liveness = fail;
    f.set.start();
    await f.clock.settle();
    await f.clock.tick(1_000);
    expect(f.set.status.live).toBe(true);
    expect(f.events).toEqual([]);
    await f.clock.tick(1_000);
    expect(f.set.status.live).toBe(false);
    expect(f.events).toEqual([{ id: 'web', probe: 'liveness', result: 'failed', message: 'broken' }]);
    await f.clock.tick(3_000);
    expect(f.events).toHaveLength(1);
    expect(f.set.status.probes.liveness).toMatchObject({ ok: false, successes: 0, failures: 6 });
    f.behaviour.liveness = pass;
    await f.clock.tick(1_000);
    expect(f.set.status.live).toBe(true);
    expect(f.events.at(-1)).toEqual({ id: 'web', probe: 'liveness', result: 'passed', message: 'fine' });
    expect(f.set.status.probes.liveness).toEqual({ ok: true, message: 'fine', at: f.clock.now(), successes: 1, failures: 0 });
    expect(f.logger.lines.filter((l) => l.level === 'warn').map((l) => l.obj)).toEqual([
      { process: 'web', probe: 'liveness', message: 'broken' },
    ]);
    await f.set.stop();
  });

  it('readiness starts not ready and flips both ways on its thresholds', async () => {
    const f = fixture({ readiness: probe('readiness', { successThreshold: 2, failureThreshold: 2 }) });
    f.set.start();
    expect(f.set.status).toMatchObject({ started: true, live: true, ready: false });
    await f.clock.settle();
    expect(f.set.status.ready).toBe(false);
    await f.clock.tick(1_000);
    expect(f.set.status.ready).toBe(true);
    f.behaviour.readiness = fail;
    await f.clock.tick(1_000);
    expect(f.set.status.ready).toBe(true);
    await f.clock.tick(1_000);
    expect(f.set.status).toMatchObject({ ready: false, live: true });
    expect(f.events.map((e) => `${e.probe} ${e.result}`)).toEqual(['readiness passed', 'readiness failed']);
    await f.set.stop();
  });
});

describe('ProbeSet startup gating', () => {
  it('runs only the startup probe until it passes, then stops it and starts the others', async () => {
    const f = fixture({
      startup: probe('startup', { failureThreshold: 10 }),
      liveness: probe('liveness'),
      readiness: probe('readiness'),
    });
    f.behaviour.startup = fail;
    f.set.start();
    await f.clock.settle();
    await f.clock.tick(2_000);
    expect(f.callsOf('startup')).toHaveLength(3);
    expect(f.calls.filter((c) => c.probe !== 'startup')).toEqual([]);
    expect(f.set.status).toMatchObject({ started: false, live: true, ready: false });
    f.behaviour.startup = pass;
    await f.clock.tick(1_000);
    expect(f.set.status).toEqual(expect.objectContaining({ started: true, live: true, ready: true }));
    expect(f.callsOf('liveness')).toHaveLength(1);
    expect(f.events.map((e) => `${e.probe} ${e.result}`)).toEqual(['startup passed', 'readiness passed']);
    await f.clock.tick(5_000);
    expect(f.callsOf('startup')).toHaveLength(4);
    expect(f.callsOf('liveness')).toHaveLength(6);
    await f.set.stop();
  });

  it('the gated probes still honour their initialDelay, counted from start', async () => {
    const f = fixture({ startup: probe('startup'), liveness: probe('liveness', { initialDelay: 3_000 }) });
    const t0 = f.clock.now();
    f.set.start();
    await f.clock.tick(3_000);
    expect(f.callsOf('liveness').map((c) => c.at - t0)).toEqual([3_000]);
    await f.set.stop();
  });

  it('without a readiness probe, ready follows started', async () => {
    const f = fixture({ startup: probe('startup', { initialDelay: 100 }) });
    f.set.start();
    expect(f.set.status).toMatchObject({ started: false, ready: false });
    await f.clock.tick(100);
    expect(f.set.status).toMatchObject({ started: true, ready: true });
    await f.set.stop();
  });

  it('a startup probe failing failureThreshold times emits startup failed and keeps checking', async () => {
    const f = fixture({ startup: probe('startup', { failureThreshold: 2 }), liveness: probe('liveness') });
    f.behaviour.startup = fail;
    f.set.start();
    await f.clock.tick(3_000);
    expect(f.events).toEqual([{ id: 'web', probe: 'startup', result: 'failed', message: 'broken' }]);
    expect(f.callsOf('startup')).toHaveLength(4);
    expect(f.callsOf('liveness')).toEqual([]);
    await f.set.stop();
  });
});

describe('ProbeSet timeouts and failures', () => {
  it('aborts a hanging check at its timeout and counts it as failed', async () => {
    const f = fixture({ liveness: probe('liveness', { timeout: 500, failureThreshold: 1 }) });
    f.behaviour.liveness = 'hang';
    f.set.start();
    await f.clock.tick(499);
    const [first] = f.calls;
    expect(first?.signal.aborted).toBe(false);
    await f.clock.tick(1);
    expect(first?.signal.reason).toBeInstanceOf(ProbeTimeoutError);
    expect(f.events).toEqual([{ id: 'web', probe: 'liveness', result: 'failed', message: 'timed out after 500ms' }]);
    await f.clock.tick(1_000);
    expect(f.callsOf('liveness').map((c) => c.at)).toEqual([first?.at, (first?.at ?? 0) + 1_500]);
    await f.set.stop();
  });

  it('abandons a check that ignores its abort, so the loop goes on', async () => {
    const f = fixture({ liveness: probe('liveness', { timeout: 500, failureThreshold: 1 }) }, { abandonAfterMs: 200 });
    f.behaviour.liveness = 'ignore';
    f.set.start();
    await f.clock.tick(700);
    expect(f.events[0]?.message).toMatch(/^timed out after 500ms/);
    await f.clock.tick(1_000);
    expect(f.callsOf('liveness')).toHaveLength(2);
    const stopping = f.set.stop(); // the second call ignores its abort too
    await f.clock.tick(200);
    await stopping;
  });

  it('a check that throws is a failed result, and the loop goes on', async () => {
    const f = fixture({ readiness: probe('readiness', { failureThreshold: 1 }) });
    f.set.start();
    await f.clock.settle();
    f.behaviour.readiness = 'throw';
    await f.clock.tick(1_000);
    expect(f.events.at(-1)).toEqual({ id: 'web', probe: 'readiness', result: 'failed', message: 'check blew up' });
    await f.clock.tick(1_000);
    expect(f.callsOf('readiness')).toHaveLength(3);
    await f.set.stop();
  });

  it('an onChange that throws is logged and probing goes on', async () => {
    const f = fixture({ readiness: probe('readiness') }, { onChange: () => { throw new Error('listener bug'); } });
    f.set.start();
    await f.clock.tick(1_000);
    expect(f.logger.lines.filter((l) => l.level === 'error').map((l) => l.obj)).toEqual([
      { process: 'web', probe: 'readiness', err: 'listener bug' },
    ]);
    expect(f.set.status.ready).toBe(true);
    expect(f.callsOf('readiness')).toHaveLength(2);
    await f.set.stop();
  });
});

describe('ProbeSet stop', () => {
  it('aborts the in-flight check, settles, leaves no timer and is idempotent', async () => {
    const f = fixture({ liveness: probe('liveness'), readiness: probe('readiness') });
    f.behaviour.liveness = 'hang';
    f.set.start();
    await f.clock.settle();
    const stopping = f.set.stop();
    expect(f.set.stop()).toBe(stopping);
    await stopping;
    expect(f.callsOf('liveness')[0]?.signal.aborted).toBe(true);
    expect(f.clock.pendingTimers()).toBe(0);
    await f.clock.tick(10_000);
    expect(f.calls).toHaveLength(2);
    expect(f.events.map((e) => e.probe)).toEqual(['readiness']);
  });

  it('waits at most abandonAfterMs for a check that ignores its abort', async () => {
    const f = fixture({ liveness: probe('liveness') }, { abandonAfterMs: 200 });
    f.behaviour.liveness = 'ignore';
    f.set.start();
    await f.clock.settle();
    let stopped = false;
    void f.set.stop().then(() => (stopped = true));
    await f.clock.tick(199);
    expect(stopped).toBe(false);
    await f.clock.tick(1);
    expect(stopped).toBe(true);
    expect(f.clock.pendingTimers()).toBe(0);
    expect(f.events).toEqual([]);
  });

  it('start is allowed once, and never after stop', async () => {
    const f = fixture({ liveness: probe('liveness') });
    f.set.start();
    expect(() => f.set.start()).toThrow(expect.objectContaining({ code: 'ILLEGAL_STATE' }));
    await f.set.stop();
    const g = fixture({ liveness: probe('liveness') });
    await g.set.stop();
    expect(() => g.set.start()).toThrow(expect.objectContaining({ code: 'ILLEGAL_STATE' }));
    expect(g.clock.pendingTimers()).toBe(0);
  });
});

describe('coalescedDelay', () => {
  it('moves a wait to end on the nearest grid point, by at most half of it; the grid is at most a quarter of the wait', () => {
    expect(coalescedDelay(1_234, 1_000, 250)).toBe(1_016); // ends at 2 250
    expect(coalescedDelay(1_100, 1_000, 250)).toBe(900); // ends at 2 000
    expect(coalescedDelay(1_203, 1_000, 250)).toBe(1_047); // a check that ended just after a grid point keeps its interval (start to start)
    expect(coalescedDelay(1_234, 200, 250)).toBe(216); // grid 50: ends at 1 450
    expect(coalescedDelay(1_240, 50, 250)).toBe(56); // grid 12: ends at 1 296
    expect(coalescedDelay(1_234, 7, 250)).toBe(7); // too short to move
    expect(coalescedDelay(1_234, 1_000, 0)).toBe(1_000); // off
  });

  it('makes probes of different processes come due in the same turn', async () => {
    const a = fixture({ liveness: probe('liveness', { interval: 1_000 }) }, { coalesceMs: 100 });
    await a.clock.tick(10);
    a.set.start();
    await a.clock.tick(27);
    const b = fixture({ liveness: probe('liveness', { interval: 1_000 }) }, { coalesceMs: 100, clock: a.clock });
    b.set.start();
    await a.clock.tick(2_500);
    const times = (f: typeof a): number[] => f.callsOf('liveness').map((c) => c.at);
    const t0 = times(a)[0] ?? 0;
    expect(times(b)[0]).toBe(t0 + 27);
    // each first wait (1 000 ms) ends at the nearest grid point, the same one for both
    expect(times(a).slice(1).map((t) => t - t0)).toEqual([990, 1_990]);
    expect(times(b).slice(1)).toEqual(times(a).slice(1));
    await a.set.stop();
    await b.set.stop();
  });

  it('with a shared ticker, waits and check timeouts that end together use one timer, and time out as before', async () => {
    const clock = new FakeClock(1_000_000);
    const ticker = new Ticker(clock);
    const spec = { liveness: probe('liveness', { interval: 1_000, timeout: 500, failureThreshold: 1 }) };
    const a = fixture(spec, { coalesceMs: 250, clock, ticker });
    const b = fixture(spec, { coalesceMs: 250, clock, ticker });
    a.behaviour.liveness = 'hang';
    b.behaviour.liveness = 'hang';
    a.set.start();
    b.set.start();
    await clock.settle();
    expect(clock.pendingTimers()).toBe(1); // both checks' timeouts, at the same time
    await clock.tick(500);
    for (const f of [a, b]) expect(f.events).toEqual([{ id: 'web', probe: 'liveness', result: 'failed', message: 'timed out after 500ms' }]);
    expect(clock.pendingTimers()).toBe(1); // both next waits end on the same grid point
    await clock.tick(1_000);
    expect(a.callsOf('liveness').map((c) => c.at)).toEqual([1_000_000, 1_001_500]);
    expect(b.callsOf('liveness').map((c) => c.at)).toEqual(a.callsOf('liveness').map((c) => c.at));
    await a.set.stop();
    await b.set.stop();
    expect(clock.pendingTimers()).toBe(0);
    expect(ticker.pending).toBe(0);
  });
});
