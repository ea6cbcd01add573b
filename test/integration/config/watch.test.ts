import { mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigWatcher, type ConfigWatcherOptions } from '../../../src/config/index.js';
import { FakeClock } from '../../../src/util/index.js';
import { eventually } from '../../helpers/eventually.js';
import { tempDir } from '../../helpers/supervised.js';

// Real files and real fs.watch events; the debounce runs on a real clock with a short delay
// except where a fake clock shows that events are coalesced.
describe('ConfigWatcher', () => {
  let dir: string;
  let file: string;
  let changes: string[];
  let errors: unknown[];
  let watcher: ConfigWatcher | undefined;

  beforeEach(() => {
    dir = tempDir('procmgr-watch-');
    file = join(dir, 'procmgr.yaml');
    changes = [];
    errors = [];
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function started(options: Partial<ConfigWatcherOptions> = {}): Promise<ConfigWatcher> {
    watcher = new ConfigWatcher({ file, debounceMs: 20, onChange: (t) => void changes.push(t), onError: (e) => void errors.push(e), ...options });
    await watcher.start();
    return watcher;
  }

  const replace = (text: string): void => {
    // How editors and config tools save: write a new file, rename it over the old one.
    writeFileSync(join(dir, '.procmgr.yaml.tmp'), text);
    renameSync(join(dir, '.procmgr.yaml.tmp'), file);
  };

  it('reports writes and rename-replaces, not rewrites with the same content', async () => {
    writeFileSync(file, 'a: 1\n');
    const w = await started();
    expect(changes).toEqual([]);
    expect(w.lastProgressAt).toBeDefined();

    writeFileSync(file, 'a: 2\n');
    await eventually('the write', () => changes.length === 1);
    replace('a: 3\n');
    await eventually('the rename-replace', () => changes.length === 2);

    writeFileSync(file, 'a: 3\n');
    replace('a: 3\n');
    await w.check();
    writeFileSync(file, 'a: 4\n');
    await eventually('the next real change', () => changes.length >= 3);
    await w.check();
    expect(changes).toEqual(['a: 2\n', 'a: 3\n', 'a: 4\n']);
    expect(errors).toEqual([]);
  });

  it('a file missing for a while is reported through onError, and its return with new content is a change', async () => {
    writeFileSync(file, 'a: 1\n');
    const w = await started();
    unlinkSync(file);
    await eventually('the missing file reported', () => errors.length > 0);
    expect(errors[0]).toMatchObject({ code: 'ENOENT' });
    writeFileSync(file, 'a: 1\n');
    await w.check();
    expect(changes).toEqual([]);
    writeFileSync(file, 'a: 2\n');
    await eventually('the new content', () => changes.length === 1);
    expect(changes).toEqual(['a: 2\n']);
  });

  it('follows a ConfigMap-style symlink swap', async () => {
    // kubelet layout: procmgr.yaml -> ..data/procmgr.yaml, ..data -> ..v1; an update writes
    // ..v2 and renames a new ..data link over the old one.
    const version = (name: string, text: string): void => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'procmgr.yaml'), text);
    };
    version('..v1', 'v: 1\n');
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync('..data/procmgr.yaml', file);
    await started();
    version('..v2', 'v: 2\n');
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, '..v1'), { recursive: true });
    await eventually('the swapped content', () => changes.length === 1);
    expect(changes).toEqual(['v: 2\n']);
    expect(errors).toEqual([]);
  });

  it('coalesces a burst of events into one read after the quiet time (fake clock)', async () => {
    const clock = new FakeClock();
    writeFileSync(file, 'n: 0\n');
    const w = await started({ clock, debounceMs: 500 });
    for (let i = 1; i <= 5; i++) writeFileSync(file, `n: ${i}\n`);
    await eventually('the first event', () => clock.pendingTimers() > 0);
    expect(clock.pendingTimers()).toBe(1);
    await clock.tick(499);
    expect(changes).toEqual([]);
    await clock.tick(1);
    await eventually('the debounced read', () => changes.length === 1);
    await w.check();
    expect(changes).toEqual(['n: 5\n']);
  });

  it('believes an empty file only when it is still empty a debounce later (fake clock)', async () => {
    const clock = new FakeClock();
    writeFileSync(file, 'a: 1\n');
    const w = await started({ clock, debounceMs: 500 });
    // A writer between its truncate and its write.
    writeFileSync(file, '');
    await w.check();
    expect(changes).toEqual([]);
    writeFileSync(file, 'a: 2\n');
    await w.check();
    expect(changes).toEqual(['a: 2\n']);
    // Really emptied: reported after one more quiet period.
    writeFileSync(file, '');
    await w.check();
    expect(changes).toEqual(['a: 2\n']);
    await clock.tick(500);
    await eventually('the confirmed empty file', () => changes.length === 2);
    expect(changes).toEqual(['a: 2\n', '']);
  });

  it('other files in the directory do not push the read back (fake clock)', async () => {
    const clock = new FakeClock();
    writeFileSync(file, 'a: 1\n');
    await started({ clock, debounceMs: 500 });
    // A second watch on the directory tells when the log's event has been delivered.
    const seen: string[] = [];
    const probe = watch(dir, (_event, name) => void (name !== null && seen.push(name)));
    try {
      writeFileSync(file, 'a: 2\n');
      await eventually('the config event', () => clock.pendingTimers() > 0);
      await clock.tick(300);
      writeFileSync(join(dir, 'app.log'), 'a line\n');
      await eventually('the log event', () => seen.includes('app.log'));
      await clock.tick(200);
      await eventually('the read 500 ms after the config event', () => changes.length === 1);
    } finally {
      probe.close();
    }
  });

  it('compares against the content the caller loaded, and a file missing at start counts as changed when it appears', async () => {
    writeFileSync(file, 'a: 2\n');
    await started({ initialText: 'a: 1\n' });
    expect(changes).toEqual(['a: 2\n']);

    await watcher?.stop();
    changes = [];
    errors = [];
    unlinkSync(file);
    const w = await started();
    expect(errors).toMatchObject([{ code: 'ENOENT' }]);
    writeFileSync(file, 'a: 3\n');
    await eventually('the new file', () => changes.length === 1);
    await w.check();
    expect(changes).toEqual(['a: 3\n']);
  });

  it('an onChange that throws is reported and the watch goes on', async () => {
    writeFileSync(file, 'a: 1\n');
    const w = await started({ onChange: (t) => {
      changes.push(t);
      throw new Error('apply failed');
    } });
    writeFileSync(file, 'a: 2\n');
    await eventually('the failed apply reported', () => errors.length === 1);
    writeFileSync(file, 'a: 3\n');
    await eventually('the next change', () => changes.length === 2);
    await w.check();
    expect(changes).toEqual(['a: 2\n', 'a: 3\n']);
  });

  it('stops when its signal aborts; no change is reported after', async () => {
    writeFileSync(file, 'a: 1\n');
    const ac = new AbortController();
    const w = new ConfigWatcher({ file, debounceMs: 20, onChange: (t) => void changes.push(t) });
    watcher = w;
    await w.start({ signal: ac.signal });
    ac.abort();
    writeFileSync(file, 'a: 2\n');
    await w.check();
    expect(changes).toEqual([]);
    await expect(new ConfigWatcher({ file, onChange: () => undefined }).start({ signal: ac.signal })).rejects.toThrow();
  });
});
