import { tmpdir } from 'node:os';
import { realpathSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCheck } from '../../../src/supervisor/probes/index.js';
import { runCheck } from '../../../src/supervisor/probes/run-check.js';
import { realClock } from '../../../src/util/index.js';
import { markedPids } from '../../helpers/leaks.js';
import { ownTarget, pidsRunning, spec, waitFor } from './helpers.js';

const never = new AbortController().signal;

function exec(command: string, args: string[] = [], target = ownTarget()) {
  return createCheck(spec({ exec: { command, args } }), target);
}

describe('exec check with real commands', () => {
  it('`true` passes and `false` fails with its exit code', async () => {
    expect(await exec('true')(never)).toEqual({ ok: true, message: 'exit code 0' });
    expect(await exec('false')(never)).toEqual({ ok: false, message: 'exit code 1' });
  });

  it('a failure carries the start of the output', async () => {
    expect(await exec('sh', ['-c', 'echo "not   ready"; echo again >&2; exit 3'])(never)).toEqual({
      ok: false,
      message: 'exit code 3: not ready again',
    });
  });

  it('runs with the target env and cwd', async () => {
    const dir = realpathSync(tmpdir());
    const check = exec('sh', ['-c', `test "$PROBE_VAR" = yes && test "$(pwd -P)" = "${dir}"`], ownTarget({ PROBE_VAR: 'yes' }, dir));
    expect(await check(never)).toMatchObject({ ok: true });
  });

  it('a command that cannot start fails, without throwing', async () => {
    expect(await exec('procmgr-no-such-command')(never)).toEqual({ ok: false, message: 'spawn procmgr-no-such-command ENOENT' });
  });

  it('a command past its timeout is killed with its whole process group', async () => {
    // The shell forks a background sleep that would outlive a kill of the shell alone; the sleeps
    // last far longer than waitFor waits, so only a kill makes them go.
    const check = exec('sh', ['-c', 'sleep 60.25 & sleep 60.25; wait']);
    const running = runCheck(check, { clock: realClock, timeoutMs: 300, abandonAfterMs: 5_000, signal: never });
    await waitFor(() => pidsRunning(['sleep', '60.25']).length === 2, 'both sleeps to start');
    expect(await running).toEqual({ ok: false, message: 'timed out after 300ms' });
    await waitFor(() => pidsRunning(['sleep', '60.25']).length === 0, 'both sleeps to be gone');
    await waitFor(() => markedPids().length === 0, 'no process of this file to be left');
  });

  it('background jobs of a probe that exits do not outlive it', async () => {
    expect(await exec('sh', ['-c', 'sleep 60.5 & exit 0'])(never)).toEqual({ ok: true, message: 'exit code 0' });
    await waitFor(() => pidsRunning(['sleep', '60.5']).length === 0, 'the background sleep to be gone');
  });
});
