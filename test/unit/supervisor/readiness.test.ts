import { describe, expect, it } from 'vitest';
import { readinessOf, type ProcessInfo } from '../../../src/supervisor/index.js';
import { info } from '../api/fake-backend.js';

const exit = (code: number | null, signal: string | null = null): ProcessInfo['lastExit'] => ({ pid: 4100, code, signal, at: 2_000 }) as ProcessInfo['lastExit'];

describe('readinessOf', () => {
  it('is ready with no processes, and with every process running and ready', () => {
    expect(readinessOf([])).toEqual({ ready: true, notReady: [] });
    expect(readinessOf([info('a'), info('b', { readinessProbe: true })])).toEqual({ ready: true, notReady: [] });
  });

  // The kubelet's rule: a container is ready while it runs and its readiness probe passes or is absent.
  it.each<[string, Partial<ProcessInfo>, boolean]>([
    ['running and ready', { state: 'Running', ready: true }, true],
    ['running, readiness failing', { state: 'Running', ready: false }, false],
    ['starting', { state: 'Starting', ready: false }, false],
    ['not started yet', { state: 'Stopped', phase: 'Starting', ready: false }, false],
    ['waiting for its dependencies', { state: 'Stopped', phase: 'Starting', ready: false, waitingFor: ['db'] }, false],
    ['stopped on its own, to be restarted', { state: 'Stopped', phase: 'Syncing', ready: false, lastExit: exit(0) }, false],
    ['failed', { state: 'Failed', ready: false }, false],
    ['in backoff (a crash loop)', { state: 'Backoff', ready: false, lastExit: exit(3) }, false],
    ['disabled by an explicit stop', { state: 'Disabled', ready: false }, true],
    ['being removed (Terminating)', { state: 'Stopping', phase: 'Terminating', ready: false, removed: true }, true],
    ['removed after it had failed', { state: 'Failed', phase: 'Terminated', ready: false, removed: true }, true],
    ['a job that succeeded (Finished, exit 0)', { state: 'Stopped', phase: 'Finished', ready: false, lastExit: exit(0) }, true],
    ['a job that succeeded, being finished (Terminating)', { state: 'Stopped', phase: 'Terminating', ready: false, lastExit: exit(0) }, true],
    ['a job that failed (Finished, exit 1)', { state: 'Failed', phase: 'Finished', ready: false, lastExit: exit(1) }, false],
    ['a job killed by a signal', { state: 'Failed', phase: 'Finished', ready: false, lastExit: exit(null, 'SIGKILL') }, false],
    ['a job that ended while procmgr was down (exit unknown)', { state: 'Failed', phase: 'Finished', ready: false, lastExit: exit(null) }, false],
  ])('a process that is %s → ready %s, with or without a readiness probe', (_what, over, ready) => {
    for (const readinessProbe of [false, true]) {
      const r = readinessOf([info('ok', { readinessProbe }), info('p', { readinessProbe, ...over })]);
      expect(r).toEqual({ ready, notReady: ready ? [] : ['p'] });
    }
  });

  it('lists every process that holds readiness back, in order', () => {
    const r = readinessOf([
      info('a', { readinessProbe: true, ready: false }),
      info('b', { readinessProbe: true }),
      info('c', { ready: false, state: 'Backoff' }),
    ]);
    expect(r).toEqual({ ready: false, notReady: ['a', 'c'] });
  });

  it('is not ready while procmgr shuts down, whatever the processes say', () => {
    expect(readinessOf([info('a', { readinessProbe: true })], 'shuttingDown')).toEqual({ ready: false, notReady: [], reason: 'procmgr is shuttingDown' });
    expect(readinessOf([], 'failed').ready).toBe(false);
  });

  it('is not ready while a gate holds it (the sidecar before its set was read), naming the processes too', () => {
    expect(readinessOf([], 'running', 'ProcessSet ns/web not read yet')).toEqual({ ready: false, notReady: [], reason: 'ProcessSet ns/web not read yet' });
    expect(readinessOf([info('a', { state: 'Backoff', ready: false })], 'running', 'x')).toEqual({ ready: false, notReady: ['a'], reason: 'x' });
  });
});
