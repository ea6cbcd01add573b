import { describe, expect, it } from 'vitest';
import type { ProcessSetApi, ProcessSetObject, WatchEvent } from '../../../src/k8s/api.js';
import { ProcessSetWatchLoop } from '../../../src/k8s/watch-loop.js';
import { FakeClock, flushMicrotasks } from '../../../src/util/index.js';

/** A scripted API server: lists return `current`; each watch is handed to the test to drive. */
function fakeApi() {
  let current: ProcessSetObject | undefined = { metadata: { name: 'set', generation: 1, resourceVersion: '10' } };
  const calls: string[] = [];
  const watches: { from: string; emit: (e: WatchEvent) => void; end: (err?: unknown) => void; aborted: boolean }[] = [];
  let failLists = 0;
  /** Errors the next watches end with at once, as client-node reports a refused connection or an HTTP error. */
  const watchFailures: unknown[] = [];
  const api: ProcessSetApi = {
    namespace: 'ns',
    name: 'set',
    list() {
      calls.push('list');
      if (failLists > 0) {
        failLists--;
        return Promise.reject(Object.assign(new Error('Too Many Requests'), { statusCode: 429 }));
      }
      return Promise.resolve({ object: current, resourceVersion: current?.metadata.resourceVersion ?? '1' });
    },
    watch(from, onEvent, done) {
      calls.push(`watch@${from}`);
      const controller = new AbortController();
      const w = { from, emit: onEvent, end: (err?: unknown) => done(err), aborted: false };
      controller.signal.addEventListener('abort', () => (w.aborted = true));
      watches.push(w);
      if (watchFailures.length > 0) done(watchFailures.shift());
      return Promise.resolve(controller);
    },
    patchStatus: () => Promise.resolve(),
    createEvent: () => Promise.resolve(),
    patchEvent: () => Promise.resolve(),
  };
  return {
    api, calls, watches,
    set: (o: ProcessSetObject | undefined) => (current = o),
    failNextLists: (n: number) => (failLists = n),
    failNextWatches: (...errs: unknown[]) => watchFailures.push(...errs),
  };
}

/** What undici's fetch rejects with when nothing listens at the address. */
const refused = (): Error => new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:16443'), { code: 'ECONNREFUSED' }) });
/** A watch stream cut by the server going away: no status, but the server had the connection. */
const cut = (): Error => new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
const httpError = (statusCode: number): Error => Object.assign(new Error(`HTTP ${statusCode}`), { statusCode });

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await flushMicrotasks();
}

describe('ProcessSetWatchLoop', () => {
  it('lists, then follows the watch; a 410 relists; a normal close resumes from the last version', async () => {
    const clock = new FakeClock();
    const f = fakeApi();
    const seen: (number | undefined)[] = [];
    const loop = new ProcessSetWatchLoop({ api: f.api, clock, onChange: (s) => seen.push(s?.metadata.generation), random: () => 0.5 });
    loop.start();
    await settle();
    expect(f.calls).toEqual(['list', 'watch@10']);
    f.watches[0]?.emit({ type: 'MODIFIED', object: { metadata: { name: 'set', generation: 2, resourceVersion: '11' } } });
    f.watches[0]?.emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '15' } } });
    f.watches[0]?.end(null); // the server's timeoutSeconds
    await clock.tick(1_000);
    await settle();
    expect(f.calls).toEqual(['list', 'watch@10', 'watch@15']);
    f.set({ metadata: { name: 'set', generation: 3, resourceVersion: '20' } });
    f.watches[1]?.emit({ type: 'ERROR', object: { code: 410, message: 'too old resource version' } });
    await settle();
    expect(f.calls).toEqual(['list', 'watch@10', 'watch@15', 'list', 'watch@20']);
    expect(loop.stats.relists410).toBe(1);
    f.watches[2]?.emit({ type: 'DELETED', object: { metadata: { name: 'set', resourceVersion: '21' } } });
    expect(seen).toEqual([1, 2, 3, undefined]);
    await loop.stop();
    expect(f.watches[2]?.aborted).toBe(true);
  });

  it('backs off with growing delays on errors (429 included) and never stops by itself', async () => {
    const clock = new FakeClock();
    const f = fakeApi();
    f.failNextLists(3);
    const loop = new ProcessSetWatchLoop({ api: f.api, clock, onChange: () => undefined, backoffBaseMs: 100, backoffMaxMs: 1_000, random: () => 0.5 });
    loop.start();
    await settle();
    expect(f.calls).toEqual(['list']);
    await clock.tick(99);
    expect(f.calls).toEqual(['list']); // 100 ms after the first failure
    await clock.tick(1);
    await settle();
    expect(f.calls).toEqual(['list', 'list']);
    await clock.tick(200); // then 200 ms
    await settle();
    expect(f.calls).toEqual(['list', 'list', 'list']);
    await clock.tick(400); // then 400 ms, and this one succeeds
    await settle();
    expect(f.calls).toEqual(['list', 'list', 'list', 'list', 'watch@10']);
    expect(loop.stats.errors).toBe(3);
    expect(loop.lastProgressAt).toBe(clock.now());
    await loop.stop();
  });

  it('restarts a watch that stays silent past the watchdog, from a fresh list', async () => {
    const clock = new FakeClock();
    const f = fakeApi();
    const loop = new ProcessSetWatchLoop({ api: f.api, clock, onChange: () => undefined, watchdogMs: 60_000 });
    loop.start();
    await settle();
    await clock.tick(59_000);
    f.watches[0]?.emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '12' } } }); // progress resets it
    await clock.tick(59_000);
    await settle();
    expect(f.calls).toEqual(['list', 'watch@10']);
    await clock.tick(1_000);
    await settle();
    expect(f.watches[0]?.aborted).toBe(true);
    expect(f.calls).toEqual(['list', 'watch@10', 'list', 'watch@10']);
    expect(loop.stats.watchdogRestarts).toBe(1);
    await loop.stop();
  });

  it('a client-side inactivity timeout is a normal end: resumed, not counted as an error', async () => {
    const clock = new FakeClock();
    const f = fakeApi();
    const loop = new ProcessSetWatchLoop({ api: f.api, clock, onChange: () => undefined });
    loop.start();
    await settle();
    clock.advance(5_000);
    f.watches[0]?.end(Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' }));
    await settle();
    expect(f.calls).toEqual(['list', 'watch@10', 'watch@10']);
    expect(loop.stats.errors).toBe(0);
    await loop.stop();
  });

  it('an outage: the watch resumes from its resourceVersion (no relist); refused connections are retried at most unreachableMaxMs apart; the backoff starts over once the server answers', async () => {
    const clock = new FakeClock();
    const f = fakeApi();
    const loop = new ProcessSetWatchLoop({ api: f.api, clock, onChange: () => undefined, backoffBaseMs: 100, backoffMaxMs: 10_000, unreachableMaxMs: 300, random: () => 0.5 });
    loop.start();
    await settle();
    f.failNextWatches(refused(), refused(), refused(), refused(), httpError(503));
    f.watches[0]?.end(cut()); // the server is killed mid-watch
    await settle();
    expect(f.calls).toEqual(['list', 'watch@10']);
    // 100 after the cut, then refused: 100, 200, 300 (capped), 300; then the server answers 503: 100 again, not 1 600.
    for (const [wait, watches] of [[100, 2], [100, 3], [200, 4], [300, 5], [300, 6], [100, 7]] as const) {
      await clock.tick(wait - 1);
      await settle();
      expect(f.calls.length, `before ${wait} ms`).toBe(watches);
      await clock.tick(1);
      await settle();
      expect(f.calls.length, `after ${wait} ms`).toBe(watches + 1);
    }
    expect(f.calls).toEqual(['list', ...Array<string>(7).fill('watch@10')]);
    expect(loop.stats).toMatchObject({ lists: 1, errors: 6 });
    await loop.stop();
  });

  it('a refusal the server answers (403) relists, and its backoff keeps growing across successful lists until backoffResetMs passed without a failure', async () => {
    const clock = new FakeClock();
    const f = fakeApi();
    const loop = new ProcessSetWatchLoop({ api: f.api, clock, onChange: () => undefined, backoffBaseMs: 100, backoffMaxMs: 10_000, backoffResetMs: 60_000, random: () => 0.5 });
    f.failNextWatches(httpError(403), httpError(403), httpError(403));
    loop.start();
    await settle();
    expect(f.calls).toEqual(['list', 'watch@10']);
    for (const [wait, calls] of [[100, 4], [200, 6], [400, 8]] as const) {
      await clock.tick(wait - 1);
      await settle();
      expect(f.calls.length, `before ${wait} ms`).toBe(calls - 2);
      await clock.tick(1);
      await settle();
      expect(f.calls.length, `after ${wait} ms`).toBe(calls);
    }
    expect(f.calls.slice(-2)).toEqual(['list', 'watch@10']);
    // A minute of a healthy watch: the next failure waits the base delay again.
    await clock.tick(60_001);
    f.failNextWatches(httpError(403));
    f.watches.at(-1)?.end(httpError(500));
    await settle();
    await clock.tick(99);
    await settle();
    const before = f.calls.length;
    await clock.tick(1);
    await settle();
    expect(f.calls.length).toBe(before + 1); // the watch resumed after a 500, 100 ms after it
    await loop.stop();
  });
});
