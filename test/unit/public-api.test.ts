import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';

/*
 * The package's public surface. Adding a value here is a decision (it becomes a promise to
 * users); removing one breaks them. Either way, this list changes with the README's library
 * sections in the same commit. test/integration/package/declarations.test.ts compiles the
 * examples against the emitted declarations.
 */
const VALUES = [
  'AttachError',
  'ConfigError',
  'FakeClock',
  'ForceStoppedError',
  'IllegalStateError',
  'InvalidArgumentError',
  'ManagerFailedError',
  'NotFoundError',
  'PHASES',
  'ProcessManager',
  'ProcmgrError',
  'QueueFullError',
  'ShutdownError',
  'ShutdownTimeoutError',
  'SpawnError',
  'StateFileError',
  'StopError',
  'Supervisor',
  'SyncTimeoutError',
  'TerminalError',
  'UPDATE_TYPES',
  'createSupervisedManager',
  'flushMicrotasks',
  'isConfigError',
  'isProcmgrError',
  'loadConfigFile',
  'loadConfigText',
  'parseConfigText',
  'parseDaemonConfig',
  'parseProcessList',
  'parseProcessSpec',
  'realClock',
  'sleep',
];

describe('public API (src/index.ts)', () => {
  it('exports exactly the documented values', () => {
    expect(Object.keys(api).sort()).toEqual(VALUES);
  });

  it('the exported error classes are ProcmgrErrors, named *Error', () => {
    const errors = Object.entries(api).filter(([, v]) => typeof v === 'function' && v.prototype instanceof api.ProcmgrError);
    expect(errors.length).toBeGreaterThan(10);
    for (const [name] of errors) expect(name).toMatch(/Error$/);
    expect(api.isProcmgrError(new api.TerminalError('done'))).toBe(true);
  });
});
