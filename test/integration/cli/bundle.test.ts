import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, eventually, procmgr, writeConfig } from '../../helpers/daemon.js';
import { NODE, tempDir } from '../../helpers/supervised.js';
import { closedPort } from '../probes/helpers.js';

// What an installed package or the container image runs: bin/procmgr.mjs next to a dist/ with the
// bundle (hack/bundle-cli.mjs, part of `npm run build`) and no src/ to run through tsx. The
// daemon tests run the sources; this checks that the bundle still loads every part of them.
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const pkg = tempDir('procmgr-bundle-');
const bin = join(pkg, 'bin/procmgr.mjs');
let d: DaemonProcess | undefined;

beforeAll(() => {
  mkdirSync(join(pkg, 'bin'));
  copyFileSync(join(ROOT, 'bin/procmgr.mjs'), bin);
  writeFileSync(join(pkg, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  symlinkSync(join(ROOT, 'examples'), join(pkg, 'examples'), 'dir');
  execFileSync(NODE, [join(ROOT, 'hack/bundle-cli.mjs'), join(pkg, 'dist')], { stdio: 'pipe' });
}, 60_000);

afterAll(async () => {
  await d?.stop();
  rmSync(pkg, { recursive: true, force: true });
});

describe('the bundled CLI', () => {
  it('is what bin/procmgr.mjs runs when there are no sources', () => {
    expect(existsSync(join(pkg, 'dist/bundle/procmgr.js'))).toBe(true);
    expect(existsSync(join(pkg, 'src'))).toBe(false);
  });

  it('is ASCII only, so V8 holds its source at one byte per character', () => {
    const files = readdirSync(join(pkg, 'dist/bundle')).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) {
      const text = readFileSync(join(pkg, 'dist/bundle', f), 'latin1');
      // eslint-disable-next-line no-control-regex -- the ASCII range is the point
      expect({ file: f, nonAscii: /[^\x00-\x7f]/.exec(text)?.index }).toEqual({ file: f, nonAscii: undefined });
    }
  });

  it('validates the example config', async () => {
    const res = await procmgr(['validate', join(pkg, 'examples/procmgr.yaml')], { bin });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(': valid (3 processes)');
  });

  it('runs a daemon: probes, API, metrics (a lazily loaded chunk), and a clean SIGTERM', async () => {
    const port = await closedPort();
    const server = `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`;
    const file = writeConfig(
      pkg,
      `processes:\n  - id: web\n    command: ${JSON.stringify(NODE)}\n    args: ["-e", ${JSON.stringify(server)}]\n` +
        `    probes:\n      readiness: { http: { port: ${port}, path: / }, interval: 100ms }\n`,
    );
    d = await DaemonProcess.start(file, [], bin);
    const daemon = d;
    await eventually('/readyz 200', async () => (await fetch(daemon.url('/readyz'))).status === 200);
    const metrics = await eventually('/metrics', async () => {
      const res = await fetch(daemon.url('/metrics'));
      return res.status === 200 ? res.text() : undefined;
    });
    expect(metrics).toContain('procmgr_');
    expect(await d.stop()).toBe(0);
    expect(d.stderr).toEqual([]);
  });
});
