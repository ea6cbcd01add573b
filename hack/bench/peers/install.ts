import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { progress } from '../lib.js';

/**
 * Installs the peers as their users do, once per version: built packs and npm installs are kept
 * under CACHE (PROCMGR_BENCH_CACHE, default ~/.cache/procmgr-bench), keyed by what a commit packs (procmgr) or
 * pinned version (PM2), so a rerun starts measuring at once.
 */

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CACHE = process.env.PROCMGR_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'procmgr-bench');
export const PM2_VERSION = '7.0.4';

// What a pack is built from: a change here changes what a user installs.
const PACKED = ['src', 'bin', 'examples', 'schema', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'hack/bundle-cli.mjs'];

/** npm's own variables from `npm run bench` would redirect the installs below. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

function sh(command: string, args: readonly string[], cwd: string): string {
  const out = spawnSync(command, args, { cwd, encoding: 'utf8', env: cleanEnv(), maxBuffer: 64 * 2 ** 20 });
  if (out.status !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed (${out.status ?? out.signal}):\n${out.stdout}${out.stderr}`);
  return out.stdout;
}

const git = (...args: string[]): string => sh('git', args, ROOT).trim();

/** What a commit packs, as a hash of its trees: commits that change nothing packed share one build. */
function treeKey(commit: string): string {
  return createHash('sha256').update(git('ls-tree', commit, '--', ...PACKED)).digest('hex').slice(0, 16);
}

/** The checkout's packed trees, plus a hash of its uncommitted changes to them. */
function checkoutKey(): { key: string; label: string } {
  const head = treeKey('HEAD');
  const dirty = git('status', '--porcelain', '--', ...PACKED);
  if (dirty === '') return { key: head, label: `procmgr` };
  const h = createHash('sha256').update(git('diff', 'HEAD', '--', ...PACKED));
  for (const line of dirty.split('\n')) {
    const file = line.slice(3);
    if (line.startsWith('??') && existsSync(path.join(ROOT, file))) h.update(file).update(readFileSync(path.join(ROOT, file)));
  }
  return { key: `${head}-dirty-${h.digest('hex').slice(0, 12)}`, label: 'procmgr' };
}

/** `git archive` of `commit` into the cache, with the checkout's node_modules beside it for the build. */
function sourcesOf(commit: string): string {
  const dir = path.join(CACHE, `src-${commit}`);
  if (existsSync(path.join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const archive = spawnSync('git', ['archive', '--format=tar', commit], { cwd: ROOT, maxBuffer: 512 * 2 ** 20 });
  if (archive.status !== 0) throw new Error(`git archive ${commit} failed: ${String(archive.stderr)}`);
  const tar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (tar.status !== 0) throw new Error(`tar -x failed: ${String(tar.stderr)}`);
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  writeFileSync(path.join(dir, '.complete'), '');
  return dir;
}

/** `npm run build` (tsc, then the CLI bundle), `npm pack`, `npm install` of the pack into `prefix`. */
function buildAndInstall(srcDir: string, prefix: string): void {
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  sh(process.execPath, [tsc, '-p', 'tsconfig.build.json'], srcDir);
  sh(process.execPath, ['hack/bundle-cli.mjs'], srcDir);
  const packs = mkdtempSync(path.join(os.tmpdir(), 'procmgr-bench-pack-'));
  try {
    const name = sh('npm', ['pack', '--silent', '--pack-destination', packs], srcDir).trim().split('\n').pop() ?? '';
    rmSync(prefix, { recursive: true, force: true });
    mkdirSync(prefix, { recursive: true });
    writeFileSync(path.join(prefix, 'package.json'), '{ "private": true }\n');
    sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', path.join(packs, name)], prefix);
  } finally {
    rmSync(packs, { recursive: true, force: true });
  }
}

export interface Installed {
  readonly label: string;
  /** The installed `procmgr` command (node_modules/.bin, with its shebang's Node flags). */
  readonly bin: string;
}

/** procmgr from the checkout (no `rev`) or from a git revision, installed from its pack. */
export function installProcmgr(rev?: string): Installed {
  let key: string;
  let label: string;
  let srcDir: string;
  if (rev === undefined) {
    ({ key, label } = checkoutKey());
    srcDir = ROOT;
  } else {
    const commit = git('rev-parse', '--verify', `${rev}^{commit}`);
    key = treeKey(commit);
    label = `procmgr@${rev}`;
    srcDir = sourcesOf(commit);
  }
  const prefix = path.join(CACHE, `procmgr-${key}`);
  const bin = path.join(prefix, 'node_modules/.bin/procmgr');
  if (!existsSync(path.join(prefix, '.complete'))) {
    progress(`${label}: building, packing and installing ${key.slice(0, 12)} (cached in ${prefix})`);
    buildAndInstall(srcDir, prefix);
    writeFileSync(path.join(prefix, '.complete'), '');
  }
  return { label, bin };
}

/** PM2, pinned, installed from the npm registry into the cache (never a project dependency). */
export function installPm2(): string {
  const prefix = path.join(CACHE, `pm2-${PM2_VERSION}`);
  const bin = path.join(prefix, 'node_modules/pm2/bin/pm2');
  if (!existsSync(path.join(prefix, '.complete'))) {
    progress(`pm2: npm install pm2@${PM2_VERSION} into ${prefix}`);
    mkdirSync(prefix, { recursive: true });
    if (!existsSync(path.join(prefix, 'package.json'))) writeFileSync(path.join(prefix, 'package.json'), '{ "private": true }\n');
    sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', `pm2@${PM2_VERSION}`], prefix);
    writeFileSync(path.join(prefix, '.complete'), '');
  }
  return bin;
}

/** Debian's supervisor, through hack/bench/peers/install-supervisor.sh (a no-op when installed). */
export function installSupervisor(): void {
  const script = fileURLToPath(new URL('./install-supervisor.sh', import.meta.url));
  const out = spawnSync('bash', [script], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (out.status !== 0) throw new Error(`${script} failed (${out.status ?? out.signal})`);
}
