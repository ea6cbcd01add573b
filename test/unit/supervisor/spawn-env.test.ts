import { afterEach, describe, expect, it } from 'vitest';
import { processEnv } from '../../../src/supervisor/spawn.js';

// A library user may change process.env between two spawns; the next child must see the change
// (a cache keyed on the number of keys and PATH handed it the old value).
const KEY = 'PROCMGR_TEST_ENV_VALUE';
afterEach(() => {
  delete process.env[KEY];
});

describe('processEnv', () => {
  it('reads procmgr\'s environment at every call, values included', () => {
    process.env[KEY] = 'one';
    expect(processEnv({ env: {}, inheritEnv: true })[KEY]).toBe('one');
    process.env[KEY] = 'two'; // same number of keys, same PATH
    expect(processEnv({ env: {}, inheritEnv: true })[KEY]).toBe('two');
    expect(processEnv({ env: { [KEY]: 'spec' }, inheritEnv: true })[KEY]).toBe('spec');
    expect(processEnv({ env: { A: '1' }, inheritEnv: false })).toEqual({ A: '1' });
  });
});
