import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { EventBody, InvolvedObject, ProcessSetApi } from '../../../src/k8s/api.js';
import { COMBINED_PREFIX, EVENT_MESSAGE_MAX_CHARS, EventRecorder, type EventRecorderOptions } from '../../../src/k8s/events.js';
import { FakeClock, flushMicrotasks } from '../../../src/util/index.js';
import { recordingLogger, type LogRecord } from '../../helpers/recording-logger.js';

const POD: InvolvedObject = { kind: 'Pod', apiVersion: 'v1', name: 'web-7d4b9c-x2x9z', namespace: 'ns' };

/** An Event as the fake API server holds it. */
interface Stored extends EventBody {
  readonly name: string;
}

/** The Event part of the port, keeping Events by name like the API server; `fail` answers the next calls with errors. */
function fakeApi() {
  const events = new Map<string, Stored>();
  const calls: string[] = [];
  const fail: Error[] = [];
  let hang = false;
  const answer = async (op: () => void): Promise<void> => {
    if (hang) return new Promise<void>(() => undefined);
    await flushMicrotasks();
    const err = fail.shift();
    if (err !== undefined) throw err;
    op();
  };
  const api: ProcessSetApi = {
    namespace: 'ns',
    name: 'set',
    list: () => Promise.reject(new Error('not used')),
    watch: () => Promise.reject(new Error('not used')),
    patchStatus: () => Promise.resolve(),
    createEvent: (name, _involved, body) => {
      calls.push(`create ${name}`);
      return answer(() => {
        if (events.has(name)) throw apiError(409, 'AlreadyExists', `events "${name}" already exists`);
        events.set(name, { name, ...body });
      });
    },
    patchEvent: (name, patch) => {
      calls.push(`patch ${name}`);
      return answer(() => {
        const e = events.get(name);
        if (!e) throw apiError(404, 'NotFound', `events "${name}" not found`);
        events.set(name, { ...e, ...patch });
      });
    },
  };
  return { api, events, calls, fail, hang: (on: boolean) => (hang = on) };
}

/** What client-node throws for a Status (its body is the JSON text). */
function apiError(code: number, reason: string, message: string): ApiException<string> {
  return new ApiException(code, 'Unknown API Status Code!', JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }), {});
}

function setup(extra: Partial<EventRecorderOptions> = {}) {
  const clock = new FakeClock();
  const f = fakeApi();
  const logs: LogRecord[] = [];
  const rec = new EventRecorder({ api: f.api, involved: POD, clock, logger: recordingLogger(logs), aggregateMs: 10_000, ...extra });
  const stored = (): Stored[] => [...f.events.values()];
  return { clock, f, rec, logs, stored };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await flushMicrotasks();
}

describe('EventRecorder', () => {
  it('an exec probe printing the time at every check does not make one Event per check: past 10 distinct messages they are combined', async () => {
    const { clock, rec, stored } = setup();
    // Every 500 ms for 60 s, each failure's output differs (a timestamp), as in the report.
    for (let i = 0; i < 120; i++) {
      rec.onSupervisorEvent({ type: 'probe', id: 'web', probe: 'liveness', result: 'failed', message: `exit 1: ${new Date(clock.now()).toISOString()} not ok` });
      await clock.tick(500);
    }
    await rec.flush();
    const events = stored();
    expect(events).toHaveLength(10);
    const combined = events.filter((e) => e.message.startsWith(COMBINED_PREFIX));
    expect(combined).toHaveLength(1);
    expect(combined[0]).toMatchObject({ reason: 'Unhealthy', type: 'Warning', count: 111 });
    expect(combined[0]?.message).toBe(`${COMBINED_PREFIX}Liveness probe of web failed: exit 1: ${new Date(clock.now() - 500).toISOString()} not ok`);
    expect(events.filter((e) => !e.message.startsWith(COMBINED_PREFIX)).map((e) => e.count)).toEqual(Array.from({ length: 9 }, () => 1));
  });

  it('a repeated message is one Event whose count is written at most once per aggregateMs', async () => {
    const { clock, f, rec, stored } = setup();
    for (let i = 0; i < 100; i++) {
      rec.onSupervisorEvent({ type: 'backoff', id: 'crasher', delayMs: 100, attempt: i } as never);
      await clock.tick(200);
    }
    await rec.flush();
    expect(stored()).toEqual([expect.objectContaining({ reason: 'BackOff', message: 'Back-off restarting failed process crasher', count: 100 })]);
    // 20 s of repeats: the create, a patch at 10 s and 20 s, and the flush.
    expect(f.calls.filter((c) => c.startsWith('patch')).length).toBeLessThanOrEqual(3);
  });

  it('events of different processes are never combined, even past the threshold', async () => {
    const { rec, stored } = setup();
    for (let i = 0; i < 25; i++) rec.onSupervisorEvent({ type: 'started', id: `p${i}`, pid: 100 + i } as never);
    await rec.flush();
    expect(stored().map((e) => e.message).sort()).toEqual(Array.from({ length: 25 }, (_, i) => `Started process p${i}`).sort());
  });

  it('a group is forgotten after similarWindowMs of silence: new messages get their own Events again', async () => {
    const { clock, rec, stored } = setup({ similarMax: 3, similarWindowMs: 60_000 });
    for (let i = 0; i < 5; i++) rec.record('Warning', 'Unhealthy', `check ${i}`, 'a');
    await clock.tick(60_001);
    rec.record('Warning', 'Unhealthy', 'check after the quiet minute', 'a');
    await rec.flush();
    expect(stored().map((e) => [e.message, e.count])).toEqual([
      ['check 0', 1],
      ['check 1', 1],
      [`${COMBINED_PREFIX}check 4`, 3],
      ['check after the quiet minute', 1],
    ]);
  });

  it('100 000 distinct messages do not grow what it remembers', async () => {
    const { rec, f } = setup();
    for (let i = 0; i < 100_000; i++) rec.record('Warning', 'Unhealthy', `Readiness probe of a failed: output ${i}`, 'a');
    expect(rec.tracked).toEqual({ series: 10, groups: 1 });
    await settle();
    expect(f.calls.filter((c) => c.startsWith('create'))).toHaveLength(10);
  });

  it('100 000 distinct processes: at most maxSeries Events and groups are remembered, the oldest forgotten first', async () => {
    const { rec, clock } = setup({ maxSeries: 1_000 });
    for (let i = 0; i < 100_000; i++) {
      rec.record('Normal', 'Started', `Started process p${i}`, `p${i}`);
      rec.record('Normal', 'Started', `Started process p${i}`, `p${i}`); // a repeat arms a timer
    }
    expect(rec.tracked).toEqual({ series: 1_000, groups: 1_000 });
    // A forgotten series takes its timer with it.
    expect(clock.pendingTimers()).toBe(1_000);
  });

  it('names are unique per recorder: a restarted sidecar never collides with the Events of its previous run', async () => {
    const first = setup();
    first.rec.record('Normal', 'Started', 'Started process tok', 'tok');
    await first.rec.flush();
    // The same API server, a new recorder (the sidecar after a restart), the same event.
    const again = new EventRecorder({ api: first.f.api, involved: POD, clock: first.clock, logger: recordingLogger(first.logs) });
    again.record('Normal', 'Started', 'Started process tok', 'tok');
    await again.flush();
    expect(first.stored()).toHaveLength(2);
    expect(new Set(first.stored().map((e) => e.name)).size).toBe(2);
    expect(first.logs.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('a 409 AlreadyExists on create takes the next name', async () => {
    const { rec, f, stored, logs } = setup();
    f.fail.push(apiError(409, 'AlreadyExists', 'events "x" already exists'));
    rec.record('Normal', 'Started', 'Started process a', 'a');
    await rec.flush();
    expect(stored()).toEqual([expect.objectContaining({ message: 'Started process a', count: 1 })]);
    expect(f.calls.filter((c) => c.startsWith('create'))).toHaveLength(2);
    expect(logs).toEqual([]);
  });

  it('an Event the API server forgot (404 on patch) is created again with the count so far', async () => {
    const { rec, f, clock, stored } = setup();
    rec.record('Warning', 'BackOff', 'Back-off restarting failed process a', 'a');
    await settle();
    f.events.clear(); // --event-ttl passed
    rec.record('Warning', 'BackOff', 'Back-off restarting failed process a', 'a');
    await clock.tick(10_000);
    await settle();
    expect(stored()).toEqual([expect.objectContaining({ message: 'Back-off restarting failed process a', count: 2 })]);
  });

  it('while the API server refuses, a failed create is retried once per aggregateMs, not once per occurrence, and logged as one readable line', async () => {
    const { rec, f, clock, logs, stored } = setup();
    const refusal = apiError(403, 'Forbidden', 'events is forbidden: User "system:serviceaccount:ns:procmgr" cannot create resource "events" in API group "" in the namespace "ns"');
    f.fail.push(refusal, refusal);
    for (let i = 0; i < 50; i++) {
      rec.record('Warning', 'BackOff', 'Back-off restarting failed process a', 'a');
      await clock.tick(400);
    }
    // 20 s: the first try and one 10 s after the first repeat.
    await settle();
    expect(f.calls).toHaveLength(2);
    expect(logs.map((l) => [l.msg, l.obj])).toEqual(
      Array.from({ length: 2 }, () => ['creating a Kubernetes Event failed', { err: `${'events is forbidden: User "system:serviceaccount:ns:procmgr" cannot create resource "events" in API group "" in the namespace "ns"'} (403 Forbidden)`, code: 403, reason: 'Forbidden', event: 'BackOff' }]),
    );
    await rec.flush();
    expect(stored()).toEqual([expect.objectContaining({ count: 50 })]);
  });

  it('flush({ signal }) returns when the signal aborts, even if the API server never answers', async () => {
    const { rec, f } = setup();
    f.hang(true);
    rec.record('Normal', 'Started', 'Started process a', 'a');
    rec.record('Normal', 'Started', 'Started process a', 'a');
    const ac = new AbortController();
    const done = rec.flush({ signal: ac.signal });
    let finished = false;
    void done.then(() => (finished = true));
    await settle();
    expect(finished).toBe(false);
    ac.abort();
    await settle();
    expect(finished).toBe(true);
  });

  it('cuts a long message, and a long involved name, to what the API server takes', async () => {
    const long = 'a'.repeat(253);
    const { rec, stored } = setup({ involved: { ...POD, name: `${long.slice(0, 240)}-b.${long.slice(0, 12)}` } });
    rec.record('Warning', 'Unhealthy', `Liveness probe of a failed: ${'x'.repeat(5_000)}😀`, 'a');
    await rec.flush();
    const [e] = stored();
    expect(e?.message.length).toBeLessThanOrEqual(EVENT_MESSAGE_MAX_CHARS);
    expect(e?.message.endsWith('…')).toBe(true);
    expect(e?.name.length).toBeLessThanOrEqual(253);
    expect(e?.name).toMatch(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.[0-9a-f]+$/);
    expect(e?.name).not.toMatch(/[.-]\.[0-9a-f]+$/);
  });
});
