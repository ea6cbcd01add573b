import { rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessInfo } from '../../../src/api/index.js';
import { DaemonProcess, eventually, procmgr, writeConfig } from '../../helpers/daemon.js';
import { tempDir } from '../../helpers/supervised.js';

// What a daemon is fed must never kill it: a config file far past the limit written over the
// running one is refused with a clear log line, the API keeps answering, and nothing restarts.

const dirs: string[] = [];
const daemons: DaemonProcess[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const CONFIG = 'processManager:\n  reload: { debounce: 50ms }\nprocesses:\n  - id: a\n    command: sleep\n    args: ["1000"]\n';

describe('a daemon fed too much', () => {
  it('refuses a 34 MiB config written over its file, keeps its processes and its API', async () => {
    const dir = tempDir('procmgr-big-');
    dirs.push(dir);
    const file = writeConfig(dir, CONFIG);
    const d = await DaemonProcess.start(file);
    daemons.push(d);
    const before = await eventually('a running', async () => (await d.json<ProcessInfo>('/v1/processes/a')).body.pid);
    const entry = '  - id: p{i}\n    command: 5\n';
    let big = 'processes:\n';
    for (let i = 0; big.length < 34 * 2 ** 20; i++) big += entry.replace('{i}', String(i));
    writeFileSync(file, big);
    const warned = await d.waitLog((r) => r.msg === 'watching the config file failed; retrying', 20_000);
    expect(JSON.stringify(warned.problems)).toMatch(/larger than 1048576 bytes/);
    expect((await d.json('/healthz')).status).toBe(200);
    const after = (await d.json<ProcessInfo>('/v1/processes/a')).body;
    expect([after.pid, after.restarts]).toEqual([before, 0]);

    // validate says the same at once, in one line of problem.
    const v = await procmgr(['validate', file]);
    expect([v.code, v.stderr]).toEqual([2, expect.stringMatching(/^invalid config: 1 problem\n .*larger than 1048576 bytes/)]);
  });

  it('answers a PUT of thousands of bad entries with a bounded 422', async () => {
    const dir = tempDir('procmgr-big-');
    dirs.push(dir);
    const d = await DaemonProcess.start(writeConfig(dir, CONFIG));
    daemons.push(d);
    const processes = Array.from({ length: 8_000 }, (_, i) => ({ id: `p${i}`, command: 5, restart: { policy: 'sometimes' } }));
    const body = JSON.stringify({ processes });
    expect(body.length).toBeLessThan(2 ** 20);
    const res = await fetch(d.url('/v1/processes'), { method: 'PUT', headers: { Authorization: `Bearer ${d.token ?? ''}`, 'Content-Type': 'application/json' }, body });
    const text = await res.text();
    expect(res.status).toBe(422);
    expect(text.length).toBeLessThan(64 * 1024);
    expect(JSON.parse(text)).toMatchObject({ code: 'INVALID_CONFIG', details: { total: 16_000 } });
  });
});
