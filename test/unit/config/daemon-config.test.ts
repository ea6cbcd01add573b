import { describe, expect, it } from 'vitest';
import { ConfigError, parseDaemonConfig, parseListen, parseProcessList, processListJsonSchema } from '../../../src/config/index.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('INVALID_CONFIG');
    return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

const web = { id: 'web', command: 'node', args: ['web.js'] };

describe('parseDaemonConfig defaults', () => {
  it.each([null, undefined, {}, { processManager: null, processes: null }])('%j is an empty config with every default', (input) => {
    expect(parseDaemonConfig(input)).toEqual({
      processManager: {
        api: { listen: { kind: 'tcp', host: '127.0.0.1', port: 7070 }, allowedHosts: [], metricsAuth: false, bodyLimit: 2 ** 20, requestTimeout: 30_000, maxConnections: 1024 },
        logLevel: 'info',
        shutdownTimeout: 30_000,
        reload: { watch: true, debounce: 200 },
        engine: {
          resyncIntervalMs: 30_000, resyncJitter: 0.5, backoff: { baseMs: 1_000, maxMs: 60_000, jitter: 0.5 }, transientRetryMs: 1_000,
          defaultGracePeriodMs: 30_000, minGracePeriodMs: 1_000, callTimeoutMs: 120_000, terminatingSlackMs: 10_000, abortGraceMs: 5_000, maxProcesses: 1_000_000,
        },
      },
      processes: [],
    });
  });

  it('maps durations and sizes to ms and bytes and engine fields to ProcessManagerOptions names', () => {
    const c = parseDaemonConfig({
      processManager: { api: { bodyLimit: '64k', token: 't' }, shutdownTimeout: '1m', reload: { debounce: '1s' }, engine: { resyncInterval: '5s', backoff: { max: '2m' }, callTimeout: 1500 } },
    });
    expect(c.processManager.api).toMatchObject({ bodyLimit: 64_000, token: 't' });
    expect(c.processManager.shutdownTimeout).toBe(60_000);
    expect(c.processManager.reload.debounce).toBe(1_000);
    expect(c.processManager.engine).toMatchObject({ resyncIntervalMs: 5_000, backoff: { baseMs: 1_000, maxMs: 120_000 }, callTimeoutMs: 1_500 });
  });

  it('keeps each spec exactly as written, minus id and dependsOn', () => {
    const raw = { id: 'web', dependsOn: ['db'], command: 'node', restart: { delay: '5s' } };
    const c = parseDaemonConfig({ processes: [raw, { id: 'db', command: 'pg' }] });
    expect(c.processes).toEqual([
      { id: 'web', dependsOn: [{ id: 'db', condition: 'ready' }], spec: { command: 'node', restart: { delay: '5s' } } },
      { id: 'db', dependsOn: [], spec: { command: 'pg' } },
    ]);
    // A copy: changing the input later does not change the parsed config.
    raw.restart.delay = '9s';
    expect(c.processes[0]?.spec.restart?.delay).toBe('5s');
  });
});

describe('listen addresses', () => {
  it.each([
    ['127.0.0.1:7070', { kind: 'tcp', host: '127.0.0.1', port: 7070 }],
    ['localhost:0', { kind: 'tcp', host: 'localhost', port: 0 }],
    ['0.0.0.0:80', { kind: 'tcp', host: '0.0.0.0', port: 80 }],
    ['[::1]:7070', { kind: 'tcp', host: '::1', port: 7070 }],
    ['unix:/run/procmgr.sock', { kind: 'unix', path: '/run/procmgr.sock' }],
  ])('%s', (text, expected) => {
    expect(parseListen(text)).toEqual(expected);
  });

  it.each([
    ['7070', 'expected "host:port"'],
    ['::1:7070', 'an IPv6 address needs brackets'],
    ['[nope]:1', 'expected an IPv6 address inside the brackets'],
    ['host:70000', 'expected a port 0-65535'],
    ['bad_host!:1', 'expected a host name or IPv4 address'],
    [':7070', 'expected a host name or IPv4 address'],
    ['unix:', 'expected a socket path'],
  ])('rejects %s', (text, message) => {
    const [line, ...rest] = problems(() => parseDaemonConfig({ processManager: { api: { listen: text } } }));
    expect(rest).toEqual([]);
    expect(line).toContain(message);
    expect(line).toMatch(/^processManager\.api\.listen: expected /);
    expect(line?.endsWith(`, got ${JSON.stringify(text)}`)).toBe(true);
  });
});

describe('errors name the path, the value and the expectation', () => {
  it.each([
    [{ processes: [web, web, { id: 'x', command: 'x', probes: { liveness: { http: { port: 'eighty' } } } }] }, 'processes[2].probes.liveness.http.port: expected integer 1-65535, got "eighty"'],
    [{ processes: [{ ...web, probes: { readiness: { tcp: { port: 0 } } } }] }, 'processes[0].probes.readiness.tcp.port: expected integer 1-65535, got 0'],
    [{ processes: [{ ...web, restart: { policy: 'sometimes' } }] }, 'processes[0].restart.policy: expected one of "never", "on-failure", "always", "unless-stopped", got "sometimes"'],
    [{ processes: [{ ...web, restart: { delay: -5 } }] }, 'processes[0].restart.delay: expected a duration like "500ms", "5s", "1m" or a number of milliseconds, got -5'],
    [{ processes: [{ ...web, env: { A: 1 } }] }, 'processes[0].env.A: expected a string, got a number (value not shown)'],
    [{ processes: [{ ...web, user: true }] }, 'processes[0].user: expected a non-empty string or integer >= 0, got true'],
    [{ processes: [{ ...web, umask: '999' }] }, 'processes[0].umask: expected an octal mask like "022", got "999"'],
    [{ processes: [{ ...web, probes: { startup: { http: { port: 80, path: 'x' } } } }] }, 'processes[0].probes.startup.http.path: expected a request path starting with "/", without spaces or control characters, got "x"'],
    [{ processes: [{ command: 'x' }] }, 'processes[0].id: required: expected a string'],
    [{ processes: [{ ...web, id: 'a b' }] }, 'processes[0].id: expected a non-empty id of at most 253 printable characters without whitespace, got "a b"'],
    [{ processes: { web } }, 'processes: expected a list of a mapping, got a mapping'],
    [{ processManager: { logLevel: 'loud' } }, 'processManager.logLevel: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent", got "loud"'],
    [{ processManager: { api: { bodyLimit: 'huge' } } }, 'processManager.api.bodyLimit: expected a size like "512Mi", "10MB" or a number of bytes, got "huge"'],
    // __proto__ anywhere (zod's records would skip it unvalidated), and ids that are not Unicode.
    [JSON.parse('{"processes":[{"id":"w","command":"x","env":{"__proto__":{"A":"1"}}}]}') as unknown, 'processes[0].env.__proto__: the key "__proto__" is not allowed'],
    [{ processes: [{ id: 'w\ud800', command: 'x' }] }, 'processes[0].id: expected a non-empty id of at most 253 printable characters without whitespace, got "w\\ud800"'],
    // Every duration has a maximum (a typo such as 600h would otherwise be honoured for weeks).
    [{ processManager: { shutdownTimeout: '700h' } }, 'processManager.shutdownTimeout: expected a duration of at most 168h (a week), got "700h"'],
    [{ processManager: { engine: { resyncInterval: 3e9 } } }, 'processManager.engine.resyncInterval: expected a duration of at most 168h (a week), got 3000000000'],
    [{ processes: [{ id: 'w', command: 'x', stopGracePeriod: '600h' }] }, 'processes[0].stopGracePeriod: expected a duration of at most 168h (a week), got "600h"'],
    // Secrets are described by their kind, never shown: problems are logged.
    [{ processManager: { api: { token: 12345 } } }, 'processManager.api.token: expected a non-empty string, got a number (value not shown)'],
    [{ processes: [{ id: 'w', command: 'x', env: { PASSWORD: 987654 } }] }, 'processes[0].env.PASSWORD: expected a string, got a number (value not shown)'],
    [{ processManager: { api: { bodyLimit: 0 } } }, 'processManager.api.bodyLimit: expected 1 bytes to 67108864 bytes, got 0 bytes'],
    [{ processManager: { api: { requestTimeout: '2h' } } }, 'processManager.api.requestTimeout: expected 1 ms to 3600000 ms, got 7200000 ms'],
    [{ processManager: { api: { requestTimeout: 0 } } }, 'processManager.api.requestTimeout: expected 1 ms to 3600000 ms, got 0 ms'],
    [{ processManager: { api: { maxConnections: 0 } } }, 'processManager.api.maxConnections: expected integer 1-65535, got 0'],
    [{ processManager: { api: { allowedHosts: ['http://x'] } } }, 'processManager.api.allowedHosts[0]: expected a host name (no port, no scheme), got "http://x"'],
    [{ processManager: { engine: { backoff: { base: '1m', max: '1s' } } } }, 'processManager.engine.backoff.max: expected at least backoff.base (60000 ms), got 1000 ms'],
    [{ processManager: { engine: { callTimeout: 0 } } }, 'processManager.engine.callTimeout: expected a duration > 0, got 0'],
    [{ processManager: { engine: { resyncJitter: 3 } } }, 'processManager.engine.resyncJitter: expected number 0-2, got 3'],
    [[], '(root): expected a mapping, got a list'],
  ])('%j', (input, message) => {
    expect(problems(() => parseDaemonConfig(input)).map((p) => p.replace(/^: /, '(root): '))).toContainEqual(expect.stringContaining(message));
  });

  it.each([
    [{ typo: 1 }, 'typo: unknown key; expected one of processManager, processes'],
    [{ processManager: { logLevl: 'info' } }, 'processManager.logLevl: unknown key; did you mean "logLevel"?'],
    [{ processManager: { api: { port: 1 } } }, 'processManager.api.port: unknown key; expected one of listen, token, tokenFile, allowedHosts, metricsAuth, bodyLimit, requestTimeout, maxConnections'],
    [{ processManager: { engine: { resyncIntervall: '1s' } } }, 'processManager.engine.resyncIntervall: unknown key; did you mean "resyncInterval"?'],
    [{ processes: [{ ...web, comand: 'x' }] }, 'processes[0].comand: unknown key; did you mean "command"?'],
    [{ processes: [{ ...web, depends_on: ['db'] }] }, 'processes[0].depends_on: unknown key'],
    [{ processes: [{ ...web, probes: { liveness: { http: { port: 1, verb: 'GET' } } } }] }, 'processes[0].probes.liveness.http.verb: unknown key'],
  ])('unknown key: %j', (input, message) => {
    expect(problems(() => parseDaemonConfig(input))).toContainEqual(expect.stringContaining(message));
  });
});

describe('checks across entries', () => {
  const p = (id: string, dependsOn?: string[]): Record<string, unknown> => ({ id, command: 'x', ...(dependsOn ? { dependsOn } : {}) });

  it.each([
    [[p('web'), p('db'), p('api'), p('web')], 'processes[3].id: duplicate id "web" (also processes[0])'],
    [[p('web', ['dbb']), p('db')], 'processes[0].dependsOn[0]: unknown id "dbb"; expected one of "db"'],
    [[p('web', ['web'])], 'processes[0].dependsOn[0]: "web" is this process itself; expected the id of another process'],
    [[p('a', ['b']), p('b', ['c']), p('c', ['a'])], 'processes[0].dependsOn: dependency cycle a -> b -> c -> a; expected dependencies without cycles'],
    [[p('x'), p('b', ['c']), p('c', ['b'])], 'processes[1].dependsOn: dependency cycle b -> c -> b'],
    // A duplicate's own dependencies are still checked: every problem at once.
    [[p('web'), p('db'), p('web', ['nope'])], 'processes[2].dependsOn[0]: unknown id "nope"'],
  ])('%j', (processes, message) => {
    expect(problems(() => parseDaemonConfig({ processes }))).toContainEqual(expect.stringContaining(message));
  });

  it('names each cycle once, from its earliest entry', () => {
    const list = [p('c', ['a']), p('a', ['b']), p('b', ['c']), p('d', ['e']), p('e', ['d', 'c'])];
    expect(problems(() => parseDaemonConfig({ processes: list }))).toEqual([
      'processes[0].dependsOn: dependency cycle c -> a -> b -> c; expected dependencies without cycles',
      'processes[3].dependsOn: dependency cycle d -> e -> d; expected dependencies without cycles',
    ]);
  });

  it('accepts a dependency graph without cycles in any order', () => {
    const c = parseDaemonConfig({ processes: [p('web', ['api', 'db']), p('api', ['db']), p('db')] });
    expect(c.processes.map((e) => [e.id, e.dependsOn.map((d) => d.id)])).toEqual([['web', ['api', 'db']], ['api', ['db']], ['db', []]]);
  });

  it('takes a dependency as an id (condition ready) or as { id, condition }', () => {
    const c = parseDaemonConfig({ processes: [p('db'), p('migrate'), { id: 'web', command: 'x', dependsOn: ['db', { id: 'migrate', condition: 'completed' }, { id: 'db2' }] }, p('db2')] });
    expect(c.processes[2]?.dependsOn).toEqual([{ id: 'db', condition: 'ready' }, { id: 'migrate', condition: 'completed' }, { id: 'db2', condition: 'ready' }]);
    expect(problems(() => parseDaemonConfig({ processes: [p('a'), { id: 'b', command: 'x', dependsOn: [{ id: 'a', condition: 'healthy' }, { id: 'nope' }] }] }))).toEqual([
      expect.stringMatching(/^processes\[1\]\.dependsOn\[0\].*"healthy"/),
      'processes[1].dependsOn[1]: unknown id "nope"; expected one of "a"',
    ]);
  });

  it('a long chain does not overflow the stack', () => {
    const list = Array.from({ length: 20_000 }, (_, i) => p(`p${i}`, i + 1 < 20_000 ? [`p${i + 1}`] : ['p0']));
    expect(problems(() => parseProcessList(list))).toEqual([expect.stringMatching(/^processes\[0\]\.dependsOn: dependency cycle p0 -> p1 -> .* -> p9 -> … \(19989 more\) -> p19999 -> p0;/)]);
  });

  it('rejects token together with tokenFile', () => {
    expect(problems(() => parseDaemonConfig({ processManager: { api: { token: 'a', tokenFile: 'b' } } }))).toEqual([
      'processManager.api.tokenFile: expected either token or tokenFile, got both',
    ]);
  });

  it('reports every problem at once, schema and cross-entry alike', () => {
    const err = (() => {
      try {
        parseDaemonConfig({
          bogus: true,
          processManager: { api: { listen: 'nowhere', token: 'a', tokenFile: 'b' }, shutdownTimeout: 'soon' },
          processes: [p('web', ['web', 'ghost']), { ...p('web'), probes: { liveness: { http: { port: 'eighty' } } } }, p('a', ['b']), p('b', ['a'])],
        }, 'procmgr.yaml');
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err.problems.map((x) => x.path).sort()).toEqual([
      'bogus', 'processManager.api.listen', 'processManager.api.tokenFile', 'processManager.shutdownTimeout',
      'processes[0].dependsOn[0]', 'processes[0].dependsOn[1]', 'processes[1].id', 'processes[1].probes.liveness.http.port', 'processes[2].dependsOn',
    ]);
    expect(err.message).toMatch(/^invalid config procmgr\.yaml: /);
    expect(err.message).toContain('processes[1].probes.liveness.http.port: expected integer 1-65535, got "eighty"');
  });
});

describe('parseProcessList', () => {
  it('parses a list into entries with the raw specs', () => {
    expect(parseProcessList([{ id: 'a', command: 'x', stopGracePeriod: '3s' }, { id: 'b', dependsOn: ['a'], command: 'y' }])).toEqual([
      { id: 'a', dependsOn: [], spec: { command: 'x', stopGracePeriod: '3s' } },
      { id: 'b', dependsOn: [{ id: 'a', condition: 'ready' }], spec: { command: 'y' } },
    ]);
    expect(parseProcessList([])).toEqual([]);
  });

  it('makes the same checks, paths prefixed with `where`', () => {
    expect(problems(() => parseProcessList([{ id: 'a', command: 'x', dependsOn: ['z'] }, { id: 'a', comand: 'x' }], 'spec.processes'))).toEqual([
      'spec.processes[1].comand: unknown key; did you mean "command"?',
      'spec.processes[1].command: required for a managed process',
      'spec.processes[1].id: duplicate id "a" (also spec.processes[0])',
      'spec.processes[0].dependsOn[0]: unknown id "z"; expected the id of another process, and there is none',
    ]);
    expect(problems(() => parseProcessList({ a: 1 }))).toEqual(['processes: expected a list of a mapping, got a mapping']);
  });

  it('has a JSON Schema for the list, also in the OpenAPI 3.0 dialect of a CRD', () => {
    const draft = processListJsonSchema();
    expect(draft).toMatchObject({ type: 'array', items: { type: 'object', required: expect.arrayContaining(['id']) as unknown } });
    const openapi = processListJsonSchema('openapi-3.0');
    expect(openapi).not.toHaveProperty('$schema');
    expect(openapi).toMatchObject({ type: 'array', items: { additionalProperties: false } });
  });
});
