import { describe, expect, it } from 'vitest';
import { Lifecycle, type Component } from '../../../src/daemon/index.js';
import { flushMicrotasks } from '../../../src/util/index.js';
import { silentLogger } from '../../../src/util/index.js';

function recorder(failOn: { start?: string; stop?: string } = {}): { log: string[]; parts: (name: string) => Component } {
  const log: string[] = [];
  return {
    log,
    parts: (name) => ({
      name,
      start: () => {
        log.push(`start ${name}`);
        return failOn.start === name ? Promise.reject(new Error(`${name} cannot start`)) : Promise.resolve();
      },
      stop: () => {
        log.push(`stop ${name}`);
        return failOn.stop === name ? Promise.reject(new Error(`${name} cannot stop`)) : Promise.resolve();
      },
    }),
  };
}

describe('Lifecycle', () => {
  it('starts in order and stops in reverse, once', async () => {
    const { log, parts } = recorder();
    const lc = new Lifecycle(['config', 'processes', 'api'].map(parts), silentLogger);
    await lc.start();
    await Promise.all([lc.stop(), lc.stop()]);
    await lc.stop();
    expect(log).toEqual(['start config', 'start processes', 'start api', 'stop api', 'stop processes', 'stop config']);
  });

  it('a failed start stops what already started, in reverse, and rethrows', async () => {
    const { log, parts } = recorder({ start: 'api' });
    const lc = new Lifecycle(['config', 'processes', 'api', 'watcher'].map(parts), silentLogger);
    await expect(lc.start()).rejects.toThrow('api cannot start');
    expect(log).toEqual(['start config', 'start processes', 'start api', 'stop processes', 'stop config']);
  });

  it('a failing stop does not keep the others from stopping; the errors come back together', async () => {
    const { log, parts } = recorder({ stop: 'processes' });
    const lc = new Lifecycle(['config', 'processes', 'api'].map(parts), silentLogger);
    await lc.start();
    await expect(lc.stop()).rejects.toThrow('1 component(s) failed to stop');
    expect(log.slice(3)).toEqual(['stop api', 'stop processes', 'stop config']);
  });

  it('a stop during start lets the current component finish, starts no other, and stops what started', async () => {
    const log: string[] = [];
    let release: () => void = () => undefined;
    const slow: Component = {
      name: 'processes',
      start: () => new Promise<void>((r) => (release = () => { log.push('start processes'); r(); })),
      stop: () => Promise.resolve(void log.push('stop processes')),
    };
    const { parts } = recorder();
    const api = parts('api');
    const lc = new Lifecycle([slow, { ...api, start: () => Promise.resolve(void log.push('start api')) }], silentLogger);
    const started = lc.start();
    await flushMicrotasks();
    const stopped = lc.stop();
    release();
    await expect(started).rejects.toMatchObject({ code: 'START_ABORTED' });
    await stopped;
    expect(log).toEqual(['start processes', 'stop processes']);
  });
});
