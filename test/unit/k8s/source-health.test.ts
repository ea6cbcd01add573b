import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { describeApiError, SourceHealthTracker } from '../../../src/k8s/source-health.js';

// What client-node throws for a 403: the server's Status as a JSON string, under a generic message.
const forbidden = (): ApiException<string> =>
  new ApiException(403, 'Unknown API Status Code!', JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, message: 'processsets.procmgr.dev is forbidden: User "system:serviceaccount:ns:procmgr" cannot list resource "processsets"' }), {});

describe('describeApiError', () => {
  it('is one readable line: status, reason and the server\'s own message, not the escaped body', () => {
    const e = describeApiError(forbidden(), 5);
    expect(e).toEqual({ status: 403, message: '403 Forbidden: processsets.procmgr.dev is forbidden: User "system:serviceaccount:ns:procmgr" cannot list resource "processsets"', at: 5 });
    expect(e.message).not.toMatch(/Unknown API Status Code|\\"/);
  });

  it.each<[string, unknown, string]>([
    ['a connection error', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }), 'connect ECONNREFUSED 127.0.0.1:6443'],
    ['a status without a Status body', new ApiException(502, 'Unknown API Status Code!', '', {}), '502: no message from the server'],
    ['a plain-text body (a proxy)', new ApiException(404, 'Unknown API Status Code!', '404 page not found\n', {}), '404: 404 page not found'],
    ['a watch error with a statusCode', Object.assign(new Error('too old resource version'), { statusCode: 410 }), '410: no message from the server'],
    ['a thrown string', 'boom', 'boom'],
  ])('%s', (_what, err, message) => {
    expect(describeApiError(err, 0).message).toBe(message);
  });

  it('bounds the message', () => {
    const huge = new ApiException(500, 'x', JSON.stringify({ message: 'y'.repeat(10_000) }), {});
    expect(describeApiError(huge, 0).message.length).toBeLessThanOrEqual(1_025);
  });
});

describe('SourceHealthTracker', () => {
  it('waits, then syncs; a refusal is reported once, and again only after a watch delivered', () => {
    const t = new SourceHealthTracker(0);
    expect(t.health).toEqual({ state: 'waiting', since: 0 });
    expect(t.failed(forbidden(), 10)).toMatchObject({ status: 403 });
    expect(t.health).toMatchObject({ state: 'refused', since: 10, lastError: { status: 403, at: 10 } });
    expect(t.health.firstReadAt).toBeUndefined();
    expect(t.failed(forbidden(), 20)).toBeUndefined(); // retried: not reported again
    expect(t.health).toMatchObject({ state: 'refused', since: 10, lastError: { at: 20 } });
    t.succeeded(30, false); // a list works, the watch is still refused
    expect(t.health).toMatchObject({ state: 'synced', since: 30, firstReadAt: 30 });
    expect(t.failed(forbidden(), 40)).toBeUndefined();
    t.succeeded(50, false);
    t.succeeded(60, true); // a watch delivered: the next refusal is news
    expect(t.health).toMatchObject({ state: 'synced', since: 50, firstReadAt: 30 });
    expect(t.failed(forbidden(), 70)).toBeDefined();
  });

  it('a transient failure is `failing` and never reported as a refusal', () => {
    const t = new SourceHealthTracker(0);
    expect(t.failed(Object.assign(new Error('Too Many Requests'), { statusCode: 429 }), 1)).toBeUndefined();
    expect(t.health).toMatchObject({ state: 'failing', lastError: { status: 429 } });
    expect(t.failed(new Error('socket hang up'), 2)).toBeUndefined();
    expect(t.health).toMatchObject({ state: 'failing', since: 1 });
  });
});
