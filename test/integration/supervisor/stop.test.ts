import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ownChild } from '../../../src/supervisor/handle.js';
import { stopProcess, type StopProgress } from '../../../src/supervisor/signals.js';
import { realClock } from '../../../src/util/index.js';
import { NODE, fixture, supervised, waitFor } from '../../helpers/supervised.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) process.kill(-(c.pid ?? 0), 'SIGKILL');
});

/** ignore-term.mjs in its own group, with its stdout collected. */
async function stubborn(): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(NODE, [fixture('ignore-term.mjs')], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor('ready', () => out.includes('ready'));
  return { child, out: () => out };
}

describe('stopProcess across aborted calls', () => {
  it('resumes the same stop: no second stop signal, and the grace counts from the first one', async () => {
    const { child, out } = await stubborn();
    const h = ownChild(child, realClock);
    const progress: StopProgress = { signalledAt: undefined, escaped: [] };
    const call = new AbortController();
    const first = stopProcess(h, { signal: 'SIGTERM', graceMs: 60_000, clock: realClock, abort: call.signal, progress });
    await waitFor('the stop signal', () => out().includes('got SIGTERM'));
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
      await waitFor(`stop signal ${i + 1}`, () => (out().match(/got SIGTERM/g) ?? []).length === i + 1);
      call.abort(new Error('call timed out'));
      await expect(p).rejects.toThrow('call timed out');
    }
    await expect(stopProcess(h, { signal: 'SIGTERM', graceMs: 0, clock: realClock })).resolves.toBe(true);
  });
});

describe('a restart whose stop outlasts the engine call', () => {
  it('reaches SIGKILL at the grace even when each sync call is cut off earlier', async () => {
    const h = supervised({ manager: { callTimeoutMs: 300, transientRetryMs: 50 } });
    try {
      const spec = { command: NODE, args: [fixture('ignore-term.mjs')], stopGracePeriod: '1s' };
      h.create('stubborn', spec);
      const first = await h.running('stubborn');
      await waitFor('its SIGTERM handler', () => h.supervisor.logs('stubborn').some((l) => l.line === 'ready'));
      // A changed spec makes the sync stop the old run; every call is aborted after 300 ms.
      h.manager.updateProcess({ id: 'stubborn', type: 'update', config: { ...spec, env: { V: '2' } } });
      await waitFor('the old run killed and a new one running', () => h.pid('stubborn') !== first && h.state('stubborn') === 'Running' && h.pid('stubborn'), 15_000);
      const exit = h.of('exited', 'stubborn')[0];
      expect(exit?.pid).toBe(first);
      expect(exit?.signal).toBe('SIGKILL');
    } finally {
      await h.close();
    }
  });
});
