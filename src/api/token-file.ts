import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, ProcmgrError } from '../util/index.js';
import { codeOf } from './listen.js';

/*
 * The token a daemon generates when none is configured, kept where only its own user can read it,
 * so that user's CLI finds it with no flag (as PM2's socket in ~/.pm2, or Jupyter's runtime dir).
 * One file per TCP port (`api-<port>.token`): the CLI knows the port it talks to, not the config
 * file the daemon read. The directories, in the order both sides try them:
 *   1. root: /run/procmgr (what `sudo procmgr status` finds whatever the environment says);
 *   2. $XDG_RUNTIME_DIR/procmgr (the user's runtime dir, 0700 by the XDG spec);
 *   3. <os temp dir>/procmgr-<uid>.
 * A directory is used only if it is a real directory owned by this user with no group or other
 * permission bits: another user could have created /tmp/procmgr-<uid> first, and a token in a
 * directory they control is theirs too.
 */

/** Options of the token-file functions; the defaults are this process's. */
export interface TokenDirOptions {
  /** Default: `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default: `process.getuid()`. */
  readonly uid?: number;
  /** The directories to try instead of the ones above (tests). */
  readonly dirs?: readonly string[];
}

/** No directory could take the generated token. `details.tried` says why for each. */
export class TokenFileError extends ProcmgrError<'TOKEN_FILE'> {
  constructor(message: string, tried: readonly string[], cause?: unknown) {
    super('TOKEN_FILE', message, { details: { tried }, cause });
  }
}

/** A fresh random token: 256 bits, URL-safe base64. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The directories tried for generated tokens, in order (see above). */
export function tokenDirs(opts: TokenDirOptions = {}): string[] {
  if (opts.dirs !== undefined) return [...opts.dirs];
  const env = opts.env ?? process.env;
  const uid = opts.uid ?? currentUid();
  const dirs: string[] = [];
  if (uid === 0) dirs.push('/run/procmgr');
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && xdg.startsWith('/')) dirs.push(join(xdg, 'procmgr'));
  dirs.push(join(tmpdir(), `procmgr-${uid}`));
  return dirs;
}

/** The file name a daemon on TCP `port` keeps its generated token under. */
export function tokenFileName(port: number): string {
  return `api-${port}.token`;
}

/**
 * Writes `token` for the daemon on `port` into the first usable directory (created 0700 if
 * missing), atomically and with mode 0600. Returns the file's path; throws `TokenFileError`
 * naming each directory and why it was refused.
 */
export async function writeTokenFile(port: number, token: string, opts: TokenDirOptions = {}): Promise<string> {
  const uid = opts.uid ?? currentUid();
  const tried: string[] = [];
  for (const dir of tokenDirs(opts)) {
    const problem = await ensurePrivateDir(dir, uid);
    if (problem !== undefined) {
      tried.push(`${dir}: ${problem}`);
      continue;
    }
    const file = join(dir, tokenFileName(port));
    const temp = `${file}.${process.pid}.tmp`;
    try {
      // 'wx' (O_CREAT|O_EXCL) never follows a symlink, and the mode is set at creation.
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(`${token}\n`);
      } finally {
        await handle.close();
      }
      await rename(temp, file);
      return file;
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      tried.push(`${dir}: ${codeOf(err) ?? describe(err)}`);
    }
  }
  throw new TokenFileError(
    `cannot store the generated API token (${tried.join('; ')}); configure processManager.api.token or api.tokenFile, or listen on a unix socket`,
    tried,
  );
}

/**
 * The token a daemon of this user generated for `port`, and where it was found; undefined when
 * there is none (another user's daemon, or one with a configured token). Files in directories or
 * with modes that other users could have written are ignored.
 */
export async function findTokenFile(port: number, opts: TokenDirOptions = {}): Promise<{ readonly token: string; readonly path: string } | undefined> {
  const uid = opts.uid ?? currentUid();
  for (const dir of tokenDirs(opts)) {
    if ((await privateDirProblem(dir, uid)) !== undefined) continue;
    const path = join(dir, tokenFileName(port));
    const token = await readPrivateFile(path, uid);
    if (token !== undefined) return { token, path };
  }
  return undefined;
}

/** Removes the token file at `path` if it still holds `token` (a newer daemon may have replaced it). */
export async function removeTokenFile(path: string, token: string): Promise<void> {
  try {
    if ((await readFile(path, 'utf8')).trim() === token) await unlink(path);
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw err;
  }
}

async function ensurePrivateDir(dir: string, uid: number): Promise<string | undefined> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if (codeOf(err) !== 'EEXIST') return codeOf(err) ?? describe(err);
  }
  return privateDirProblem(dir, uid);
}

async function privateDirProblem(dir: string, uid: number): Promise<string | undefined> {
  let st;
  try {
    st = await lstat(dir);
  } catch (err) {
    return codeOf(err) ?? describe(err);
  }
  if (!st.isDirectory()) return 'not a directory (or a symlink)';
  if (st.uid !== uid) return `owned by uid ${st.uid}, not ${uid}`;
  if ((st.mode & 0o077) !== 0) return `mode ${(st.mode & 0o777).toString(8)} lets other users in (expected 700)`;
  return undefined;
}

async function readPrivateFile(path: string, uid: number): Promise<string | undefined> {
  try {
    const st = await lstat(path);
    if (!st.isFile() || st.uid !== uid || (st.mode & 0o077) !== 0) return undefined;
    const token = (await readFile(path, 'utf8')).trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

function currentUid(): number {
  // Not on Windows; procmgr is for POSIX systems, where getuid always exists.
  return process.getuid?.() ?? -1;
}
