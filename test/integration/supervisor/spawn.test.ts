import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseProcessSpec } from '../../../src/config/parse.js';
import { prepareSpawn, spawnPlan } from '../../../src/supervisor/spawn.js';
import { tempDir } from '../../helpers/supervised.js';

// Real children, started as the supervisor starts them: what a child sees is read from its output.
const KEY = 'PROCMGR_TEST_SPAWN_VALUE';
const savedPath = process.env.PATH;
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterEach(() => {
  delete process.env[KEY];
  process.env.PATH = savedPath;
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) process.kill(-(c.pid ?? 0), 'SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Spawns `input` as the supervisor would and resolves with its stdout once it exited. */
async function output(input: Record<string, unknown>): Promise<string> {
  const child = await spawnPlan(await prepareSpawn(parseProcessSpec(input)));
  children.push(child);
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  await new Promise((resolve) => child.once('close', resolve));
  return out;
}

/** A directory holding an executable `name` that prints `says`. */
function binDir(name: string, says: string): string {
  const dir = tempDir('procmgr-spawn-');
  dirs.push(dir);
  writeExecutable(dir, name, says);
  return dir;
}

function writeExecutable(dir: string, name: string, says: string): void {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\necho ${says}\n`);
  chmodSync(file, 0o755);
}

describe('spawn reads procmgr\'s environment at every start', () => {
  it('a child sees a value changed in process.env since the last spawn (same keys, same PATH)', async () => {
    const spec = { command: `printf %s "$${KEY}"`, shell: true };
    process.env[KEY] = 'one';
    expect(await output(spec)).toBe('one');
    process.env[KEY] = 'two';
    expect(await output(spec)).toBe('two');
  });

  it('a command is looked up on the PATH of this spawn, not the one of an earlier spawn', async () => {
    const first = binDir('procmgr-which', 'first');
    const second = binDir('procmgr-which', 'second');
    process.env.PATH = `${first}${path.delimiter}${savedPath ?? ''}`;
    expect(await output({ command: 'procmgr-which' })).toBe('first\n');
    process.env.PATH = `${second}${path.delimiter}${savedPath ?? ''}`;
    expect(await output({ command: 'procmgr-which' })).toBe('second\n');
  });

  it('an executable installed earlier on an unchanged PATH wins from the next spawn, as in a shell', async () => {
    const late = binDir('procmgr-which', 'late');
    const early = tempDir('procmgr-spawn-');
    dirs.push(early);
    const env = { PATH: `${early}${path.delimiter}${late}` };
    expect(await output({ command: 'procmgr-which', env, inheritEnv: false })).toBe('late\n');
    writeExecutable(early, 'procmgr-which', 'early');
    expect(await output({ command: 'procmgr-which', env, inheritEnv: false })).toBe('early\n');
  });

  it('an executable removed since the last spawn fails the next one before any process exists', async () => {
    const dir = binDir('procmgr-gone', 'here');
    const env = { PATH: dir };
    expect(await output({ command: 'procmgr-gone', env, inheritEnv: false })).toBe('here\n');
    rmSync(path.join(dir, 'procmgr-gone'));
    await expect(prepareSpawn(parseProcessSpec({ command: 'procmgr-gone', env, inheritEnv: false }))).rejects.toMatchObject({ code: 'SPAWN_FAILED', reason: 'EXECUTABLE_NOT_FOUND' });
  });
});
