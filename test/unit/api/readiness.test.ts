import { describe, expect, it } from 'vitest';
import { readinessOf } from '../../../src/api/index.js';
import type { ProcessInfo } from '../../../src/api/index.js';
import { info } from './fake-backend.js';

describe('readinessOf', () => {
  it('is ready with no processes, and ignores processes without a readiness probe', () => {
    expect(readinessOf([])).toEqual({ ready: true, notReady: [] });
    expect(readinessOf([info('a', { ready: false, state: 'Failed' })])).toEqual({ ready: true, notReady: [] });
  });

  it.each<[string, Partial<ProcessInfo>, boolean]>([
    ['ready and running', { state: 'Running', ready: true }, true],
    ['running, readiness failing', { state: 'Running', ready: false }, false],
    ['starting', { state: 'Starting', ready: false }, false],
    ['not started yet', { state: 'Stopped', phase: 'Starting', ready: false }, false],
    ['stopped on its own (exited, not restarted)', { state: 'Stopped', phase: 'Syncing', ready: false }, false],
    ['failed', { state: 'Failed', ready: false }, false],
    ['in backoff', { state: 'Backoff', ready: false }, false],
    ['disabled by an explicit stop', { state: 'Disabled', ready: false }, true],
    ['being removed (Terminating)', { state: 'Stopping', phase: 'Terminating', ready: false }, true],
    ['removed (Terminated)', { state: 'Stopped', phase: 'Terminated', ready: false }, true],
    ['removed (Finished)', { state: 'Stopped', phase: 'Finished', ready: false }, true],
  ])('a process with a readiness probe that is %s → ready %s', (_what, over, ready) => {
    const r = readinessOf([info('ok', { readinessProbe: true }), info('p', { readinessProbe: true, ...over })]);
    expect(r).toEqual({ ready, notReady: ready ? [] : ['p'] });
  });

  it('lists every process that holds readiness back, in order', () => {
    const r = readinessOf([
      info('a', { readinessProbe: true, ready: false }),
      info('b', { readinessProbe: true }),
      info('c', { readinessProbe: true, ready: false, state: 'Backoff' }),
    ]);
    expect(r).toEqual({ ready: false, notReady: ['a', 'c'] });
  });

  it('is not ready while procmgr shuts down, whatever the processes say', () => {
    expect(readinessOf([info('a', { readinessProbe: true })], 'shuttingDown')).toEqual({ ready: false, notReady: [], reason: 'procmgr is shuttingDown' });
    expect(readinessOf([], 'failed').ready).toBe(false);
  });
});
