import { chmodSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findTokenFile, generateToken, removeTokenFile, tokenDirs, writeTokenFile } from '../../../src/api/token-file.js';
import { tempDir } from '../../helpers/supervised.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function base(): string {
  const d = tempDir('procmgr-token-');
  dirs.push(d);
  return d;
}
const uid = process.getuid?.() ?? 0;

describe('token files', () => {
  it('tries /run/procmgr for root, then $XDG_RUNTIME_DIR/procmgr, then the temp dir per uid', () => {
    expect(tokenDirs({ uid: 0, env: { XDG_RUNTIME_DIR: '/run/user/0' } })).toEqual(['/run/procmgr', '/run/user/0/procmgr', join(tmpdir(), 'procmgr-0')]);
    expect(tokenDirs({ uid: 1000, env: { XDG_RUNTIME_DIR: '/run/user/1000' } })).toEqual(['/run/user/1000/procmgr', join(tmpdir(), 'procmgr-1000')]);
    expect(tokenDirs({ uid: 1000, env: { XDG_RUNTIME_DIR: 'relative' } })).toEqual([join(tmpdir(), 'procmgr-1000')]);
  });

  it('generates 256-bit URL-safe tokens', () => {
    const a = generateToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateToken()).not.toBe(a);
  });

  it('writes into a 0700 directory it creates, mode 0600; finds it again; removes only its own', async () => {
    const dir = join(base(), 'procmgr');
    const path = await writeTokenFile(7070, 'tok-1', { dirs: [dir] });
    expect(path).toBe(join(dir, 'api-7070.token'));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe('tok-1\n');
    expect(await findTokenFile(7070, { dirs: [dir] })).toEqual({ token: 'tok-1', path });
    expect(await findTokenFile(7071, { dirs: [dir] })).toBeUndefined();
    // A newer daemon's token is not removed by an older one stopping.
    await writeTokenFile(7070, 'tok-2', { dirs: [dir] });
    await removeTokenFile(path, 'tok-1');
    expect(readFileSync(path, 'utf8')).toBe('tok-2\n');
    await removeTokenFile(path, 'tok-2');
    expect(await findTokenFile(7070, { dirs: [dir] })).toBeUndefined();
    await removeTokenFile(path, 'tok-2'); // gone already: fine
  });

  it('skips directories other users could write or own (and symlinks), and says why when none is left', async () => {
    const root = base();
    const open = join(root, 'open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    const link = join(root, 'link');
    const target = join(root, 'target');
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, link);
    const good = join(root, 'good');
    const path = await writeTokenFile(1, 'tok', { dirs: [open, link, good] });
    expect(path).toBe(join(good, 'api-1.token'));

    const err = await writeTokenFile(1, 'tok', { dirs: [open, link], uid }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOKEN_FILE', details: { tried: [expect.stringMatching(/open: mode 755 lets other users in/), expect.stringMatching(/link: not a directory/)] } });
    // Owned by someone else (as another uid sees our directory).
    const theirs = await writeTokenFile(1, 'tok', { dirs: [good], uid: uid + 1 }).catch((e: unknown) => e);
    expect(theirs).toMatchObject({ code: 'TOKEN_FILE', details: { tried: [expect.stringMatching(/owned by uid/)] } });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('ignores token files that others could have written', async () => {
    const dir = join(base(), 'procmgr');
    const path = await writeTokenFile(2, 'tok', { dirs: [dir] });
    chmodSync(path, 0o644);
    expect(await findTokenFile(2, { dirs: [dir] })).toBeUndefined();
    chmodSync(path, 0o600);
    chmodSync(dir, 0o755);
    expect(await findTokenFile(2, { dirs: [dir] })).toBeUndefined();
    chmodSync(dir, 0o700);
    writeFileSync(path, '  \n');
    expect(await findTokenFile(2, { dirs: [dir] })).toBeUndefined();
  });
});
