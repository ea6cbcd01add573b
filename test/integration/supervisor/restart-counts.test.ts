import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessSpecInput } from '../../../src/config/index.js';
import { stateFileName } from '../../../src/supervisor/index.js';
import { supervised } from '../../helpers/supervised.js';
import { eventually } from '../../helpers/eventually.js';

// `restarts` is what alerts read (runs that ended without being asked, as the kubelet's
// restartCount); `requestedRestarts` is what operators and deploys asked for.

let h: ReturnType<typeof supervised>;
afterEach(async () => h.close());

const sleeper: ProcessSpecInput = { command: 'sleep', args: ['1000'], stopGracePeriod: '2s', restart: { delay: '10ms' } };

function counts(id: string): { restarts: number; requestedRestarts: number } | undefined {
  const s = h.supervisor.status(id);
  return s && { restarts: s.restarts, requestedRestarts: s.requestedRestarts };
}

/** The pid of the run after `was`, once it is Running. */
function replaced(id: string, was: number): Promise<number> {
  return eventually(`${id} replaced`, () => h.state(id) === 'Running' && h.pid(id) !== was && h.pid(id));
}

describe('restart counters with real processes', () => {
  it('an explicit restart, a changed spec and stop then start count as requested; a crash counts in restarts', async () => {
    h = supervised();
    h.create('web', sleeper);
    let pid = await h.running('web');
    expect(counts('web')).toEqual({ restarts: 0, requestedRestarts: 0 });

    h.supervisor.restart('web');
    pid = await replaced('web', pid);
    expect(counts('web')).toEqual({ restarts: 0, requestedRestarts: 1 });

    h.manager.updateProcess({ id: 'web', type: 'update', config: { ...sleeper, args: ['1001'] } });
    pid = await replaced('web', pid);
    expect(counts('web')).toEqual({ restarts: 0, requestedRestarts: 2 });

    await h.supervisor.stop('web');
    await eventually('web Disabled', () => h.state('web') === 'Disabled');
    await h.supervisor.start('web');
    pid = await replaced('web', pid);
    expect(counts('web')).toEqual({ restarts: 0, requestedRestarts: 3 });

    process.kill(pid, 'SIGKILL');
    await replaced('web', pid);
    expect(counts('web')).toEqual({ restarts: 1, requestedRestarts: 3 });
    expect(h.of('started', 'web').map((e) => [e.restarts, e.requestedRestarts])).toEqual([[0, 0], [0, 1], [0, 2], [0, 3], [1, 3]]);
  });

  it('exits by itself and a failed liveness probe count in restarts, none as requested', async () => {
    h = supervised();
    h.create('crasher', { command: 'sh', args: ['-c', 'exit 3'], restart: { delay: '10ms', breaker: { maxFailures: 0 } } });
    // Every probe check fails: the probe ends the run, and the policy starts another.
    h.create('unhealthy', { ...sleeper, probes: { liveness: { exec: { command: 'false' }, interval: '50ms', failureThreshold: 1 } } });
    await eventually('3 crash restarts', () => (counts('crasher')?.restarts ?? 0) >= 3);
    await eventually('a liveness restart', () => (counts('unhealthy')?.restarts ?? 0) >= 1);
    expect(counts('crasher')?.requestedRestarts).toBe(0);
    expect(counts('unhealthy')?.requestedRestarts).toBe(0);
  });

  it('a restart asked for while it waits in Backoff after a crash only cuts the wait: it counts as the crash', async () => {
    h = supervised();
    h.create('slow', { command: 'sh', args: ['-c', 'exit 1'], restart: { delay: '1h', breaker: { maxFailures: 0 } } });
    await eventually('Backoff', () => h.state('slow') === 'Backoff');
    h.supervisor.restart('slow');
    await eventually('started again', () => h.of('started', 'slow').length === 2);
    expect(counts('slow')).toEqual({ restarts: 1, requestedRestarts: 0 });
  });

  it('both counters are written to the state file', async () => {
    h = supervised();
    const stateDir = h.dir();
    const s = supervised({ supervisor: { stateDir } });
    try {
      s.create('web', sleeper);
      const pid = await s.running('web');
      s.supervisor.restart('web');
      await eventually('web replaced', () => s.state('web') === 'Running' && s.pid('web') !== pid);
      const rec = await eventually('the new run recorded', () => {
        const r = JSON.parse(readFileSync(join(stateDir, stateFileName('web')), 'utf8')) as Record<string, unknown>;
        return r.pid === s.pid('web') && r;
      });
      expect(rec).toMatchObject({ restarts: 0, requestedRestarts: 1 });
    } finally {
      await s.close();
    }
  });
});
