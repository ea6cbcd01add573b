import { describe, expect, it } from 'vitest';
import { ConfigError, parseDuration, parseProcessSpec, parseSize } from '../../../src/config/index.js';

describe('durations and sizes', () => {
  it.each([['500ms', 500], ['5s', 5_000], ['1m30s', 90_000], ['2h', 7_200_000], ['1.5s', 1_500], ['0s', 0]])('%s = %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(['', '5', 's', '5 s', '-1s', '1d', '5sec'])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
  it.each([['512Mi', 512 * 2 ** 20], ['1Gi', 2 ** 30], ['10MB', 10_000_000], ['4096', 4096], ['64k', 64_000]])('%s = %i bytes', (text, n) => {
    expect(parseSize(text)).toBe(n);
  });
});

describe('parseProcessSpec', () => {
  it('fills the documented defaults', () => {
    const s = parseProcessSpec({ command: 'sleep', args: ['1'] });
    expect(s).toMatchObject({
      kind: 'managed', shell: false, inheritEnv: true, stopSignal: 'SIGTERM', stopGracePeriod: 10_000,
      restart: { policy: 'always', delay: 1_000, multiplier: 2, maxDelay: 60_000, resetAfter: 60_000, breaker: { maxFailures: 5, window: 60_000, cooldown: 300_000 } },
      logging: { maxSize: 10 * 2 ** 20, maxFiles: 3, bufferLines: 1_000 },
    });
  });

  it('parses probe timing with kubelet defaults', () => {
    const s = parseProcessSpec({ command: 'x', probes: { liveness: { tcp: { port: 80 } } } });
    expect(s.probes.liveness).toMatchObject({ tcp: { port: 80, host: '127.0.0.1' }, initialDelay: 0, interval: 10_000, timeout: 1_000, failureThreshold: 3, successThreshold: 1 });
  });

  it.each([
    [{}, 'processes[1].command: required for a managed process'],
    [{ command: 'x', restart: { delay: '5 parsecs' } }, 'processes[1].restart.delay: expected a duration'],
    [{ command: 'x', probes: { liveness: { http: { port: 99999 } } } }, 'processes[1].probes.liveness.http.port'],
    [{ command: 'x', probes: { readiness: { http: { port: 1 }, tcp: { port: 1 } } } }, 'expected exactly one of http, tcp, exec, grpc, got http and tcp'],
    [{ command: 'x', stopSignal: 'SIGFOO' }, 'processes[1].stopSignal: expected a signal name'],
    [{ command: 'x', comand: 'typo' }, 'processes[1].comand: unknown key'],
    [{ kind: 'unmanaged' }, 'processes[1].pid: an unmanaged process needs exactly one of pid or pidFile'],
    [{ kind: 'unmanaged', pid: 1, command: 'x' }, 'processes[1].command: not allowed for kind: unmanaged'],
    [{ command: 'x', umask: '999' }, 'processes[1].umask: expected an octal mask'],
    [{ command: 'x', probes: { liveness: { http: { port: 80, headers: { 'x a': 'v' } } } } }, 'processes[1].probes.liveness.http.headers.x a: expected a header name'],
    [{ command: 'x', probes: { liveness: { http: { port: 80, headers: { 'x-a': 'v\r\nInjected: 1' } } } } }, 'processes[1].probes.liveness.http.headers.x-a: expected a header value without CR, LF'],
    [{ command: 'x', probes: { liveness: { http: { port: 80, path: '/a b' } } } }, 'processes[1].probes.liveness.http.path: expected a request path starting with "/", without spaces'],
    [{ command: 'x', resources: { memory: 'lots' } }, 'processes[1].resources.memory: expected a size'],
  ])('rejects %j naming the field', (input, message) => {
    expect(() => parseProcessSpec(input, 'processes[1]')).toThrow(message);
    try {
      parseProcessSpec(input, 'processes[1]');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe('INVALID_CONFIG');
    }
  });
});
