import { describe, expect, it } from 'vitest';
import { INITIAL_STATUS, recordResult } from '../../../../src/supervisor/probes/probe-state.js';
import type { ProbeVerdict } from '../../../../src/supervisor/probes/probe-state.js';

const thresholds = { successThreshold: 2, failureThreshold: 3 };

describe('recordResult', () => {
  it.each<[string, ProbeVerdict, { successes: number; failures: number }, boolean, 'passed' | 'failed' | undefined]>([
    ['a success short of the threshold does not flip', 'failed', { successes: 0, failures: 4 }, true, undefined],
    ['reaching successThreshold flips to passed', 'failed', { successes: 1, failures: 0 }, true, 'passed'],
    ['staying passed is not a flip', 'passed', { successes: 5, failures: 0 }, true, undefined],
    ['a failure short of the threshold does not flip', 'passed', { successes: 3, failures: 1 }, false, undefined],
    ['reaching failureThreshold flips to failed', 'passed', { successes: 0, failures: 2 }, false, 'failed'],
    ['staying failed is not a flip', 'failed', { successes: 0, failures: 9 }, false, undefined],
    ['pending flips to passed', 'pending', { successes: 1, failures: 0 }, true, 'passed'],
    ['pending flips to failed', 'pending', { successes: 0, failures: 2 }, false, 'failed'],
  ])('%s', (_name, verdict, counts, ok, flip) => {
    const recorded = recordResult(verdict, { ...INITIAL_STATUS, ...counts }, { ok, message: 'm' }, thresholds, 42);
    expect(recorded.flip).toBe(flip);
    expect(recorded.status).toMatchObject({ ok, message: 'm', at: 42 });
  });

  it('a result resets the opposite run', () => {
    expect(recordResult('passed', { ...INITIAL_STATUS, successes: 7 }, { ok: false, message: '' }, thresholds, 0).status).toMatchObject({ successes: 0, failures: 1 });
    expect(recordResult('failed', { ...INITIAL_STATUS, failures: 7 }, { ok: true, message: '' }, thresholds, 0).status).toMatchObject({ successes: 1, failures: 0 });
  });
});
