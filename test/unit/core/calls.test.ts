import { describe, expect, it } from 'vitest';
import { Calls } from '../../../src/core/calls.js';
import { newRecord, type ProcessRecord } from '../../../src/core/record.js';
import { settingsFrom } from '../../../src/core/validate.js';
import { FakeClock, isProcmgrError } from '../../../src/util/index.js';
import { RecordingSyncer, deferred } from '../../helpers/recording-syncer.js';

interface Settled {
  readonly ok: boolean;
  readonly value: unknown;
  readonly at: number;
}

/** Calls on a fake clock with a recording syncer; `settled` records what reached the owner. */
function setup(options: { callTimeoutMs: number; abortGraceMs: number }) {
  const clock = new FakeClock(0);
  const syncer = new RecordingSyncer<object>(clock);
  const settled: Settled[] = [];
  const calls: Calls<object> = new Calls<object>({
    settings: settingsFrom({ syncer, clock, ...options }),
    guard: (fn) => fn(),
    // What the engine does: accept only the answer of the call it holds.
    settle: (rec, call, ok, value) => {
      if (rec.call !== call) return;
      rec.call = undefined;
      calls.done(call);
      settled.push({ ok, value, at: clock.now() });
    },
  });
  const rec: ProcessRecord<object> = newRecord('a', 0);
  rec.config = {};
  return { clock, syncer, calls, rec, settled };
}

const never = (): Promise<never> => new Promise(() => undefined); // ignores its abort too

describe('Calls: deadlines and the abort grace', () => {
  it('a call past its deadline is aborted then; one that ignores the abort is abandoned after the grace', async () => {
    const { clock, syncer, calls, rec, settled } = setup({ callTimeoutMs: 1_000, abortGraceMs: 500 });
    syncer.on('syncProcess', never);
    calls.start(rec, 'syncProcess');
    await clock.tick(999);
    expect(syncer.calls[0]?.signal.aborted).toBe(false);
    await clock.tick(1);
    expect(syncer.calls[0]?.signal.aborted).toBe(true);
    expect(settled).toEqual([]);
    await clock.tick(499);
    expect(settled).toEqual([]);
    await clock.tick(1);
    expect(settled).toHaveLength(1);
    expect(settled[0]).toMatchObject({ ok: false, at: 1_500 });
    expect(isProcmgrError(settled[0]?.value) && settled[0].value.code).toBe('SYNC_TIMEOUT');
    expect(clock.pendingTimers()).toBe(0);
  });

  // The defect lazy deadline arming had: the call's deadline and the abort's grace shared one
  // queue entry that could only move earlier, so a late abort got only what was left of the deadline.
  it.each([
    ['just before the deadline', 900],
    ['at the start', 0],
    ['half way', 500],
  ])('an abort %s gets the whole grace from the abort, even past the call deadline', async (_, abortAt) => {
    const { clock, syncer, calls, rec, settled } = setup({ callTimeoutMs: 1_000, abortGraceMs: 5_000 });
    syncer.on('syncProcess', never);
    calls.start(rec, 'syncProcess');
    await clock.tick(abortAt);
    calls.abort(rec, rec.call!, 'superseded');
    await clock.tick(5_000 - 1);
    expect(settled).toEqual([]);
    await clock.tick(1);
    expect(settled).toEqual([expect.objectContaining({ ok: false, at: abortAt + 5_000 })]);
  });

  it('an abort in the turn the call started, before any timer ran, gets the whole grace', async () => {
    const { clock, syncer, calls, rec, settled } = setup({ callTimeoutMs: 1_000, abortGraceMs: 5_000 });
    syncer.on('syncProcess', never);
    calls.start(rec, 'syncProcess');
    calls.abort(rec, rec.call!, 'superseded');
    await clock.tick(4_999);
    expect(settled).toEqual([]);
    await clock.tick(1);
    expect(settled).toEqual([expect.objectContaining({ at: 5_000 })]);
  });

  it('a second abort (a supersede after a timeout) does not restart the grace', async () => {
    const { clock, syncer, calls, rec, settled } = setup({ callTimeoutMs: 1_000, abortGraceMs: 500 });
    syncer.on('syncProcess', never);
    calls.start(rec, 'syncProcess');
    await clock.tick(1_000); // timed out: the grace runs to 1 500
    await clock.tick(200);
    calls.abort(rec, rec.call!, 'superseded');
    expect(rec.call?.abortedFor).toBe('superseded'); // rerun at once, no backoff
    await clock.tick(300);
    expect(settled).toEqual([expect.objectContaining({ at: 1_500 })]);
  });

  it('the deadline runs from the start, whatever the clock does before the next turn', () => {
    const { clock, syncer, calls, rec } = setup({ callTimeoutMs: 1_000, abortGraceMs: 500 });
    syncer.on('syncProcess', never);
    calls.start(rec, 'syncProcess');
    clock.advance(1_000); // timers fire, promise callbacks do not run
    expect(syncer.calls[0]?.signal.aborted).toBe(true);
  });

  it('syncTerminating gets its grace plus the terminating slack as its deadline', async () => {
    const { clock, syncer, calls, rec } = setup({ callTimeoutMs: 1_000, abortGraceMs: 500 });
    syncer.on('syncTerminating', never);
    rec.gracePeriodMs = 3_000;
    calls.start(rec, 'syncTerminating');
    expect(syncer.calls[0]?.gracePeriodMs).toBe(3_000);
    const slack = 10_000; // the default terminatingSlackMs
    await clock.tick(3_000 + slack - 1);
    expect(syncer.calls[0]?.signal.aborted).toBe(false);
    await clock.tick(1);
    expect(syncer.calls[0]?.signal.aborted).toBe(true);
  });

  it('a call that settles, or is abandoned, leaves no timer behind', async () => {
    const { clock, syncer, calls, rec, settled } = setup({ callTimeoutMs: 1_000, abortGraceMs: 500 });
    const answer = deferred<undefined>();
    syncer.on('syncProcess', () => answer.promise);
    calls.start(rec, 'syncProcess');
    answer.resolve(undefined);
    await clock.settle();
    expect(settled).toEqual([{ ok: true, value: undefined, at: 0 }]);
    expect(clock.pendingTimers()).toBe(0);
    syncer.on('syncProcess', never);
    calls.start(rec, 'syncProcess');
    const call = rec.call!;
    rec.call = undefined;
    calls.abandon(rec, call, new Error('forced'));
    expect(call.controller.signal.aborted).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a syncer that throws synchronously is a failed call, not a crash', async () => {
    const { clock, syncer, calls, rec, settled } = setup({ callTimeoutMs: 1_000, abortGraceMs: 500 });
    const boom = new Error('boom');
    syncer.on('syncProcess', () => {
      throw boom;
    });
    calls.start(rec, 'syncProcess');
    await clock.settle();
    expect(settled).toEqual([{ ok: false, value: boom, at: 0 }]);
  });
});
