import { describe, expect, it } from 'vitest';
import { CircuitBreaker, isFailure, restartDelayMs, shouldRestart } from '../../../src/supervisor/restart-policy.js';
import { StateMachine, canTransition, type RuntimeState } from '../../../src/supervisor/state-machine.js';
import { IllegalStateError } from '../../../src/util/index.js';

describe('restart decision', () => {
  const ok = { code: 0, signal: null };
  const crash = { code: 1, signal: null };
  const killed = { code: null, signal: 'SIGKILL' };
  const probe = { code: 0, signal: null, reason: 'liveness probe failed' };
  it.each([
    ['never', ok, false], ['never', crash, false],
    ['on-failure', ok, false], ['on-failure', crash, true], ['on-failure', killed, true], ['on-failure', probe, true],
    ['always', ok, true], ['always', crash, true],
    ['unless-stopped', ok, true], ['unless-stopped', killed, true],
  ] as const)('%s after %o → restart %s', (policy, end, expected) => {
    expect(shouldRestart(policy, end)).toBe(expected);
  });

  it('counts a signal, a non-zero code, an unknown end and procmgr’s own reasons as failures', () => {
    expect([ok, crash, killed, probe, { code: null, signal: null }].map(isFailure)).toEqual([false, true, true, true, true]);
  });
});

describe('restartDelayMs', () => {
  const spec = { delay: 100, multiplier: 2, maxDelay: 1_000 };
  it.each([[0, 0], [1, 100], [2, 200], [3, 400], [4, 800], [5, 1_000], [60, 1_000], [5_000, 1_000]])('after %i failures: %i ms', (n, ms) => {
    expect(restartDelayMs(spec, n)).toBe(ms);
  });
  it('is 0 with delay 0 and overflow-safe with huge multipliers', () => {
    expect(restartDelayMs({ delay: 0, multiplier: 2, maxDelay: 1_000 }, 10)).toBe(0);
    expect(restartDelayMs({ delay: 1, multiplier: 1e308, maxDelay: 7 }, 10)).toBe(7);
  });
});

describe('CircuitBreaker', () => {
  const spec = { maxFailures: 3, window: 1_000, cooldown: 5_000 };

  it('opens after maxFailures inside the window, not when they are spread out', () => {
    const b = new CircuitBreaker(spec);
    expect(b.failure(0)).toBe(false);
    expect(b.failure(600)).toBe(false);
    expect(b.failure(1_200)).toBe(false); // the one at 0 fell out of the window
    expect(b.state(1_200)).toBe('closed');
    expect(b.failure(1_300)).toBe(true);
    expect(b.status(1_300)).toEqual({ state: 'open', failures: 0, openUntil: 6_300 });
    expect(b.allowedAt(2_000)).toBe(6_300);
  });

  it('half-opens after the cooldown, re-opens on a failed trial, closes on a healthy one', () => {
    const b = new CircuitBreaker(spec);
    for (const t of [0, 1, 2]) b.failure(t);
    expect(b.state(5_001)).toBe('open');
    expect(b.state(5_002)).toBe('halfOpen');
    expect(b.allowedAt(5_002)).toBe(5_002);
    expect(b.failure(5_100)).toBe(true); // the trial failed: open for another cooldown
    expect(b.allowedAt(5_100)).toBe(10_100);
    expect(b.state(10_100)).toBe('halfOpen');
    expect(b.success(10_200)).toBe(true);
    expect(b.state(10_200)).toBe('closed');
    expect(b.failure(10_300)).toBe(false);
  });

  it('is disabled by maxFailures 0', () => {
    const b = new CircuitBreaker({ ...spec, maxFailures: 0 });
    for (let t = 0; t < 100; t++) expect(b.failure(t)).toBe(false);
    expect(b.state(100)).toBe('closed');
  });
});

describe('StateMachine', () => {
  it('records transitions with timestamps and bounds the history', () => {
    const sm = new StateMachine(0, 3);
    const path: RuntimeState[] = ['Starting', 'Running', 'Backoff', 'Starting', 'Running'];
    path.forEach((s, i) => sm.to(s, i + 1, `step ${i}`));
    expect(sm.state).toBe('Running');
    expect(sm.since).toBe(5);
    expect(sm.history.map((t) => `${t.from}>${t.to}@${t.at}`)).toEqual(['Running>Backoff@3', 'Backoff>Starting@4', 'Starting>Running@5']);
  });

  it('throws IllegalStateError on a transition the table forbids and stays put', () => {
    const sm = new StateMachine(0);
    expect(canTransition('Stopped', 'Stopping')).toBe(false);
    expect(() => sm.to('Stopping', 1, 'bad')).toThrow(IllegalStateError);
    expect(sm.state).toBe('Stopped');
    sm.to('Stopped', 2, 'same state is a no-op');
    expect(sm.history).toEqual([]);
  });
});
