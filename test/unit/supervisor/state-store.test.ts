import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StateFileError, StateStore, stateFileName, type ProcessRecordFile } from '../../../src/supervisor/index.js';

/*
 * The state dir's contract: every id (any valid one, and ones validation refuses) gets a file
 * name of at most 255 bytes that no other id gets; records round-trip with the id checked; names
 * written before stay what they were; failures are typed.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'procmgr-state-'));
  dirs.push(d);
  return d;
}

const ids: Array<[string, string]> = [
  ['1 character', 'a'],
  ['253 ASCII', 'x'.repeat(253)],
  ['253 × é', 'é'.repeat(253)],
  ['253 emoji', '😀'.repeat(253)],
  ['253 × %', '%'.repeat(253)],
  ['a lone surrogate', 'a\ud800b'],
  ['a lone low surrogate at the end', 'x'.repeat(252) + '\udc00'],
  ['the name a hashed id would get', '+0123456789abcdef0123456789abcdef'],
  ['slashes and dots', '../etc/passwd'],
  ['dot', '.'],
  ['dot dot', '..'],
];

const rec = (id: string, extra: Partial<ProcessRecordFile> = {}): ProcessRecordFile => ({ id, configHash: 'h', pid: 42, startTimeTicks: 7, ...extra });

describe('stateFileName', () => {
  it.each(ids)('%s: at most 255 bytes, one path component, ends in .json', (_name, id) => {
    const name = stateFileName(id);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name).not.toContain('/');
    expect(name).toMatch(/\.json$/);
    expect(name).not.toBe('.json');
    expect(Buffer.from(name, 'utf8').toString('utf8')).toBe(name); // well-formed: writable as a file name
  });

  it('keeps the name records always had when it fits (old state dirs read as they are)', () => {
    expect(stateFileName('a')).toBe('a.json');
    expect(stateFileName('web/api é')).toBe(`${encodeURIComponent('web/api é')}.json`);
    const fits = 'y'.repeat(250);
    expect(stateFileName(fits)).toBe(`${fits}.json`); // 255 bytes exactly
  });

  it('hashes what does not fit, keeping a readable prefix of whole characters', () => {
    const name = stateFileName('é'.repeat(253));
    expect(name).toMatch(/^(%C3%A9){16}\+[0-9a-f]{32}\.json$/);
    expect(stateFileName('y'.repeat(251))).toMatch(/^y{100}\+[0-9a-f]{32}\.json$/);
  });

  it('gives different ids different names, also ids that share a long prefix or differ only in a lone surrogate', () => {
    const tricky = [
      ...ids.map(([, id]) => id),
      'x'.repeat(252) + 'y',
      'x'.repeat(252) + 'z',
      'a\ud801b',
      'a\ufffdb', // what a lone surrogate becomes in UTF-8
      'y'.repeat(100) + '+' + 'q'.repeat(200),
    ];
    expect(new Set(tricky.map(stateFileName)).size).toBe(new Set(tricky).size);
  });
});

describe('StateStore', () => {
  it.each(ids)('%s: write, read, list, remove', async (_name, id) => {
    const dir = tmp();
    const store = new StateStore(join(dir, 'state'));
    await store.write(rec(id));
    expect(await store.read(id)).toEqual(rec(id));
    expect(readdirSync(join(dir, 'state'))).toEqual([stateFileName(id)]); // no temp file left
    expect((await store.list()).map((r) => r.id)).toEqual([id]);
    await store.remove(id);
    expect(await store.read(id)).toBeUndefined();
    await store.remove(id); // none is fine
  });

  it('reads a record an older procmgr wrote under its name', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'web%2Fapi.json'), JSON.stringify(rec('web/api')));
    const store = new StateStore(dir);
    expect(await store.read('web/api')).toEqual(rec('web/api'));
    expect(await store.list()).toEqual([rec('web/api')]);
  });

  it('drops a file holding another id (read) or not naming its id (list), and a torn one', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.json'), JSON.stringify(rec('b')));
    writeFileSync(join(dir, 'c.json'), '{"id":"c","configHash"');
    writeFileSync(join(dir, 'notes.txt'), 'not ours');
    const store = new StateStore(dir);
    expect(await store.read('a')).toBeUndefined();
    expect(await store.list()).toEqual([]);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('ignores a malformed finish instead of trusting it', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'j.json'), JSON.stringify({ ...rec('j'), finished: { code: 0 } }));
    expect((await new StateStore(dir).read('j'))?.finished).toBeUndefined();
  });

  it('keeps a run mark procmgr could have made and drops any other (a mark selects processes to kill)', async () => {
    const dir = tmp();
    const mark = '0b0e3f4c-5d6e-4f70-8192-a3b4c5d6e7f8';
    writeFileSync(join(dir, 'good.json'), JSON.stringify(rec('good', { runMark: mark })));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...rec('bad'), runMark: '' }));
    const store = new StateStore(dir);
    expect((await store.read('good'))?.runMark).toBe(mark);
    expect(await store.read('bad')).toEqual({ ...rec('bad'), runMark: undefined });
  });

  it('runs the operations on one id in call order (a remove is never overtaken by a later read)', async () => {
    const store = new StateStore(tmp());
    await store.write(rec('a'));
    const [, gone, , back] = await Promise.all([store.remove('a'), store.read('a'), store.write(rec('a', { pid: 9 })), store.read('a')]);
    expect(gone).toBeUndefined();
    expect(back?.pid).toBe(9);
  });

  it('a file where the dir should be: typed errors naming the id; reads and removes find nothing', async () => {
    const dir = join(tmp(), 'state');
    writeFileSync(dir, '');
    const store = new StateStore(dir);
    const err: unknown = await store.write(rec('a')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateFileError);
    expect(err).toMatchObject({ code: 'STATE_FILE', details: { id: 'a' } });
    expect((err as Error).message).toMatch(/^state file not written: /);
    expect(await store.read('a')).toBeUndefined();
    await store.remove('a');
    expect(await store.list()).toEqual([]);
    // Once the dir is usable, writes work again (a failure is not remembered).
    rmSync(dir);
    await store.write(rec('a'));
    expect(await store.read('a')).toEqual(rec('a'));
  });

  it('a record that is there but cannot be read throws instead of reading as none', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'a.json')); // EISDIR
    await expect(new StateStore(dir).read('a')).rejects.toBeInstanceOf(StateFileError);
  });
});
