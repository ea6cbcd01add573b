import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResponseHead } from '../../../../src/supervisor/probes/plain-http-check.js';

// The contract of the hand-written response-head reader behind the plain `http` probe: the
// outcome depends on the bytes, never on how the network split them.

/** Feeds `text` in the given pieces; the first outcome, or undefined while more would be needed. */
function read(text: string, cuts: readonly number[] = []): ReturnType<ResponseHead['push']> {
  const head = new ResponseHead();
  const bytes = Buffer.from(text, 'latin1');
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, bytes.length]) {
    if (to < from) continue;
    const state = head.push(bytes.subarray(from, to));
    if (state !== undefined) return state;
    from = to;
  }
  return undefined;
}

const PAD = `X-Pad: ${'a'.repeat(20_000)}`;

describe('ResponseHead', () => {
  it.each([
    ['a status with a reason', 'HTTP/1.1 200 OK\r\n\r\n', { status: 200 }],
    ['a status without a reason', 'HTTP/1.1 204\r\n\r\n', { status: 204 }],
    ['bare LF line ends', 'HTTP/1.1 503 Busy\nRetry-After: 1\n\n', { status: 503 }],
    ['HTTP/1.0', 'HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n', { status: 302 }],
    ['a body after the head (chunked)', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nok!!\r\n0\r\n\r\n', { status: 200 }],
    ['a body after the head (content-length)', 'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnah', { status: 404 }],
    ['1xx answers before the final one', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n', { status: 200 }],
    ['a 101 it did not ask for (the answer, a failing one)', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n', { status: 101 }],
    ['garbage, from its first bytes', 'SSH-2.0-OpenSSH_9.6', { error: 'not an HTTP response: "SSH-2.0-OpenSSH_9.6"' }],
    ['a malformed status line', 'HTTP/1.1 OK\r\n\r\n', { error: 'malformed HTTP status line: "HTTP/1.1 OK"' }],
    ['headers over the bound', `HTTP/1.1 200 OK\r\n${PAD}`, { error: 'HTTP response headers larger than 16384 bytes' }],
    ['headers over the bound, even if they end', `HTTP/1.1 200 OK\r\n${PAD}\r\n\r\n`, { error: 'HTTP response headers larger than 16384 bytes' }],
  ])('%s', (_what, text, outcome) => {
    expect(read(text)).toEqual(outcome);
  });

  it.each([
    ['nothing yet', ''],
    ['a status line in progress', 'HTTP/1.1 2'],
    ['headers without their blank line', 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n'],
    ['a 1xx and nothing after it', 'HTTP/1.1 100 Continue\r\n\r\n'],
  ])('wants more after %s', (_what, text) => {
    expect(read(text)).toBeUndefined();
  });

  it('says what arrived when the connection closes early', () => {
    const head = new ResponseHead();
    expect(head.closedEarly()).toBe('connection closed before any response');
    head.push(Buffer.from('HTTP/1.1 200 OK\r\nX: y\r\n'));
    expect(head.closedEarly()).toBe('connection closed inside the response headers: "HTTP/1.1 200 OK"');
  });

  it('reaches the same outcome however the bytes are split', () => {
    const responses = [
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 503 Service Unavailable\r\n\r\n',
      'HTTP/1.1 204\n\n',
      'HTTP/1.1 OK\r\n\r\n',
      'HTTX/1.1 200 OK\r\n\r\n',
    ];
    fc.assert(
      fc.property(fc.constantFrom(...responses), fc.array(fc.nat(), { maxLength: 12 }), (text, cuts) => {
        // A verdict of garbage may come on fewer bytes (it is given on the first wrong one), so
        // only the quoted preview of an error may differ.
        const kind = (state: ReturnType<ResponseHead['push']>): unknown => (state && 'error' in state ? state.error.split(':')[0] : state);
        expect(kind(read(text, cuts))).toEqual(kind(read(text)));
      }),
    );
  });

  it('fails an oversized head dripped byte by byte, without reading past the bound', () => {
    const head = new ResponseHead();
    let state: ReturnType<ResponseHead['push']>;
    let fed = 0;
    const bytes = Buffer.from(`HTTP/1.1 200 OK\r\n${PAD}`, 'latin1');
    do state = head.push(bytes.subarray(fed, ++fed));
    while (state === undefined && fed < bytes.length);
    expect(state).toEqual({ error: 'HTTP response headers larger than 16384 bytes' });
    expect(fed).toBeLessThanOrEqual(16 * 1024 + 1);
  });
});
