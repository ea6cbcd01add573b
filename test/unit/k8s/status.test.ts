import { describe, expect, it } from 'vitest';
import { readinessOf } from '../../../src/supervisor/index.js';
import { buildStatus, processSetStatusSchema, type Condition } from '../../../src/k8s/index.js';
import { info } from '../api/fake-backend.js';

const byType = (conditions: readonly Condition[], type: Condition['type']): Condition | undefined => conditions.find((c) => c.type === type);

describe('buildStatus', () => {
  it('a rejected generation never advances observedGeneration; SpecInvalid carries the generation it judged', () => {
    const { status, conditions } = buildStatus({ processes: [info('a')], appliedGeneration: 4, rejected: { generation: 5, error: 'spec.processes[0].command: required' }, now: 0 });
    expect(status).toMatchObject({ observedGeneration: 4, summary: 'SpecInvalid', readyProcesses: '1/1' });
    // Ready describes what runs (generation 4), so `kubectl wait` on generation 5 does not pass.
    expect(byType(conditions, 'Ready')).toMatchObject({ status: 'True', observedGeneration: 4 });
    expect(byType(conditions, 'Degraded')).toMatchObject({ status: 'False', observedGeneration: 4 });
    expect(byType(conditions, 'SpecInvalid')).toMatchObject({ status: 'True', reason: 'ValidationFailed', message: 'spec.processes[0].command: required', observedGeneration: 5 });
    expect(processSetStatusSchema.safeParse(status).success).toBe(true);
  });

  it('a valid generation: everything observes it, SpecInvalid is False', () => {
    const { status, conditions } = buildStatus({ processes: [info('a'), info('b', { state: 'Starting', ready: false })], appliedGeneration: 6, rejected: undefined, now: 0 });
    expect(status).toMatchObject({ observedGeneration: 6, summary: 'NotReady', readyProcesses: '1/2', readyCount: 1, processCount: 2 });
    expect(conditions.map((c) => [c.type, c.status, c.observedGeneration])).toEqual([['Ready', 'False', 6], ['Degraded', 'False', 6], ['SpecInvalid', 'False', 6]]);
  });

  it('no generation ever ran: Ready False (SpecInvalid), and no observedGeneration at all', () => {
    const { status, conditions } = buildStatus({ processes: [], appliedGeneration: undefined, rejected: { generation: 1, error: 'bad' }, now: 0 });
    expect(status.observedGeneration).toBeUndefined();
    expect(byType(conditions, 'Ready')).toMatchObject({ status: 'False', reason: 'SpecInvalid' });
    expect(byType(conditions, 'Ready')?.observedGeneration).toBeUndefined();
    expect(byType(conditions, 'SpecInvalid')).toMatchObject({ status: 'True', observedGeneration: 1 });
  });

  it('Ready agrees with /readyz: a crash loop without a readiness probe is not ready, a succeeded job is', () => {
    const crashing = [info('web'), info('crasher', { state: 'Backoff', ready: false, readinessProbe: false })];
    const a = buildStatus({ processes: crashing, appliedGeneration: 1, rejected: undefined, now: 0 });
    expect(readinessOf(crashing).ready).toBe(false);
    expect(byType(a.conditions, 'Ready')).toMatchObject({ status: 'False', message: 'not ready: crasher' });
    expect(a.status.summary).toBe('Degraded');
    const job = [info('web'), info('job', { state: 'Stopped', phase: 'Finished', ready: false, lastExit: { pid: 1, code: 0, signal: null, at: 0 } as never })];
    const b = buildStatus({ processes: job, appliedGeneration: 1, rejected: undefined, now: 0 });
    expect(readinessOf(job).ready).toBe(true);
    expect(byType(b.conditions, 'Ready')).toMatchObject({ status: 'True' });
    expect(b.status).toMatchObject({ summary: 'Ready', readyProcesses: '1/2' });
  });
});
