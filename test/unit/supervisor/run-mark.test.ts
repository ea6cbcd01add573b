import { describe, expect, it } from 'vitest';
import { parseProcessSpec } from '../../../src/config/index.js';
import { isRunMark, marksIn, newRunMark, RUN_MARK_VAR } from '../../../src/supervisor/run-mark.js';
import { prepareSpawn } from '../../../src/supervisor/spawn.js';

const A = '0b0e3f4c-5d6e-4f70-8192-a3b4c5d6e7f8';
const B = '11111111-2222-4333-8444-555555555555';

describe('marksIn', () => {
  it.each([
    ['no entry', 'PATH=/bin\0HOME=/root\0', []],
    ['empty environ', '', []],
    ['the first entry', `${RUN_MARK_VAR}=${A}\0PATH=/bin\0`, [A]],
    ['the last entry, with no NUL after it', `PATH=/bin\0${RUN_MARK_VAR}=${A}`, [A]],
    ['an outer and an inner mark', `${RUN_MARK_VAR}=${B} ${A}\0`, [B, A]],
    ['the name inside another entry', `X_${RUN_MARK_VAR}=${A}\0Y=${RUN_MARK_VAR}=${B}\0`, []],
    ['an empty value', `${RUN_MARK_VAR}=\0`, []],
    ['two entries', `${RUN_MARK_VAR}=${A}\0${RUN_MARK_VAR}=${B}\0`, [A, B]],
  ])('%s', (_name, environ, marks) => {
    expect(marksIn(environ)).toEqual(marks);
  });
});

describe('isRunMark', () => {
  it('takes what newRunMark makes and nothing that could select other processes', () => {
    expect(isRunMark(newRunMark())).toBe(true);
    expect(newRunMark()).not.toBe(newRunMark());
    for (const v of ['', ' ', `${A} ${B}`, A.toUpperCase(), `${A}\0`, 'x', 42, undefined, null]) expect(isRunMark(v), String(v)).toBe(false);
  });
});

describe('prepareSpawn and the run mark', () => {
  it('marks a tree run only, with a fresh mark added to an inherited one', async () => {
    const group = await prepareSpawn(parseProcessSpec({ command: 'sh', shell: true, inheritEnv: false }));
    expect(group.runMark).toBeUndefined();
    expect(group.env[RUN_MARK_VAR]).toBeUndefined();

    const tree = await prepareSpawn(parseProcessSpec({ command: 'sh', shell: true, inheritEnv: false, killMode: 'tree' }));
    expect(isRunMark(tree.runMark)).toBe(true);
    expect(tree.env[RUN_MARK_VAR]).toBe(tree.runMark);

    const nested = await prepareSpawn(parseProcessSpec({ command: 'sh', shell: true, inheritEnv: false, env: { [RUN_MARK_VAR]: B }, killMode: 'tree' }));
    expect(nested.env[RUN_MARK_VAR]).toBe(`${B} ${nested.runMark ?? ''}`);
    expect(nested.runMark).not.toBe(tree.runMark);
  });
});
