import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_DOC_EXAMPLE } from '../../../hack/docs-content.js';
import { ConfigError, loadConfigFile, parseConfigText, parseDaemonConfig, parseProcessSpec } from '../../../src/config/index.js';

async function rejection(p: Promise<unknown>): Promise<ConfigError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('parseConfigText', () => {
  it('parses YAML, and JSON (with tabs) as YAML', () => {
    expect(parseConfigText('processes:\n  - id: a\n    command: x\n', 'f.yaml')).toEqual({ processes: [{ id: 'a', command: 'x' }] });
    expect(parseConfigText('{\n\t"processes": [\n\t\t{"id": "a", "command": "x"}\n\t]\n}\n', 'f.json')).toEqual({ processes: [{ id: 'a', command: 'x' }] });
  });

  it.each(['', '# only a comment\n', '---\n'])('%j is an empty config', (text) => {
    expect(parseDaemonConfig(parseConfigText(text, 'f.yaml')).processes).toEqual([]);
  });

  it('keeps YAML 1.2 scalars: `on`/`yes` stay strings, so a typo cannot become a boolean', () => {
    expect(parseConfigText('a: yes\nb: on\nc: true\n', 'f.yaml')).toEqual({ a: 'yes', b: 'on', c: true });
  });

  it.each([
    ['a: b: c\n', 'f.yaml:1:4: Nested mappings are not allowed in compact mappings'],
    ['processes:\n  - id: a\n  - id: b\n id: c\n', 'f.yaml:4:1:'],
    ['x: 1\nx: 2\n', 'f.yaml:2:1: Map keys must be unique'],
    ['key: "unterminated\n', 'f.yaml:2:1: Missing closing "quote'],
    ['{"processes": [}\n', 'f.yaml:1:'],
  ])('a syntax error in %j names source:line:col', (text, message) => {
    let err: unknown;
    try {
      parseConfigText(text, 'f.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const [first] = (err as ConfigError).problems;
    expect(`${first?.path}: ${first?.message}`).toContain(message);
    expect((err as ConfigError).message).toMatch(/^invalid YAML in f\.yaml: f\.yaml:\d+:\d+: /);
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'procmgr-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing file is a ConfigError naming it', async () => {
    const err = await rejection(loadConfigFile(join(dir, 'nope.yaml')));
    expect(err.problems).toEqual([{ path: join(dir, 'nope.yaml'), message: 'no such file' }]);
  });

  it('a directory is a ConfigError too', async () => {
    const err = await rejection(loadConfigFile(dir));
    expect(err.problems[0]?.message).toMatch(/^cannot read: /);
  });

  it('names the file in validation errors', async () => {
    writeFileSync(join(dir, 'c.yaml'), 'processes:\n  - id: a\n    comand: x\n');
    const err = await rejection(loadConfigFile(join(dir, 'c.yaml')));
    expect(err.message).toContain(`invalid config ${join(dir, 'c.yaml')}: processes[0].comand: unknown key; did you mean "command"?`);
  });

  it("resolves relative paths against the file's directory, in the raw spec the supervisor gets", async () => {
    writeFileSync(join(dir, 'c.yaml'), [
      'processManager:',
      '  stateDir: state',
      '  api: { listen: "unix:run/api.sock" }',
      'processes:',
      '  - { id: a, command: ./a.sh, cwd: apps, logging: { file: logs/a.log, maxSize: 1Mi } }',
      '  - { id: b, command: b, logging: { file: b.log } }',
      '  - { id: c, kind: unmanaged, pidFile: run/c.pid }',
      '  - { id: d, command: d, cwd: /abs, logging: { file: /var/log/d.log } }',
    ].join('\n'));
    const c = await loadConfigFile(join(dir, 'c.yaml'));
    expect(c.processManager.stateDir).toBe(join(dir, 'state'));
    expect(c.processManager.api.listen).toEqual({ kind: 'unix', path: join(dir, 'run/api.sock') });
    expect(c.processes.map((e) => e.spec)).toEqual([
      // `command` is left alone: it is found against cwd or PATH by the supervisor.
      { command: './a.sh', cwd: join(dir, 'apps'), logging: { file: join(dir, 'apps/logs/a.log'), maxSize: '1Mi' } },
      { command: 'b', logging: { file: join(dir, 'b.log') } },
      { kind: 'unmanaged', pidFile: join(dir, 'run/c.pid') },
      { command: 'd', cwd: '/abs', logging: { file: '/var/log/d.log' } },
    ]);
    // Still a valid spec, with the resolved paths.
    expect(parseProcessSpec(c.processes[0]?.spec).logging.file).toBe(join(dir, 'apps/logs/a.log'));
  });

  it('reads tokenFile (trimmed, relative to the file) into token', async () => {
    mkdirSync(join(dir, 'secrets'));
    writeFileSync(join(dir, 'secrets/token'), '  s3cret\n');
    writeFileSync(join(dir, 'c.yaml'), 'processManager: { api: { tokenFile: secrets/token } }\n');
    const c = await loadConfigFile(join(dir, 'c.yaml'));
    expect(c.processManager.api).toMatchObject({ token: 's3cret', tokenFile: join(dir, 'secrets/token') });
  });

  it.each([
    ['missing', undefined, /^cannot read .*secrets\/token: /],
    ['empty', ' \n', /secrets\/token is empty; expected the token$/],
  ])('a %s tokenFile is a ConfigError', async (_what, content, message) => {
    mkdirSync(join(dir, 'secrets'));
    if (content !== undefined) writeFileSync(join(dir, 'secrets/token'), content);
    writeFileSync(join(dir, 'c.yaml'), 'processManager: { api: { tokenFile: secrets/token } }\n');
    const err = await rejection(loadConfigFile(join(dir, 'c.yaml')));
    expect(err.problems).toEqual([{ path: 'processManager.api.tokenFile', message: expect.stringMatching(message) as unknown }]);
  });
});

describe('examples', () => {
  it('examples/procmgr.yaml loads, its apps resolved next to it', async () => {
    const file = fileURLToPath(new URL('../../../examples/procmgr.yaml', import.meta.url));
    const c = await loadConfigFile(file);
    const apps = fileURLToPath(new URL('../../../examples/apps', import.meta.url));
    expect(c.processes.map((e) => [e.id, e.dependsOn])).toEqual([['web', []], ['worker', [{ id: 'web', condition: 'ready' }, { id: 'migrate', condition: 'completed' }]], ['migrate', []]]);
    expect(c.processes[0]?.spec).toMatchObject({ command: 'node', args: ['web.cjs'], cwd: apps });
    expect(parseProcessSpec(c.processes[0]?.spec).probes).toMatchObject({ readiness: { http: { port: 7081, path: '/readyz' } }, liveness: { http: { port: 7081, path: '/healthz' } } });
    expect(parseProcessSpec(c.processes[2]?.spec).restart.policy).toBe('on-failure');
  });

  it("docs/config.md's example is valid", () => {
    expect(parseDaemonConfig(parseConfigText(CONFIG_DOC_EXAMPLE, 'docs/config.md')).processes.map((e) => e.id)).toEqual(['db', 'web']);
  });
});
