import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock, isProcmgrError, sleep } from '../../../src/util/index.js';
import { PHASES, ProcessManager, type ManagerEvent, type Phase } from '../../../src/core/index.js';
import { RecordingSyncer, hangUntilAborted } from '../../helpers/recording-syncer.js';
import { seededRandom } from '../../helpers/seeded-random.js';

type Behaviour = 'ok' | 'fail' | 'throw' | 'terminal' | 'hang' | 'slow' | 'transient';
interface Config {
  readonly id: string;
  readonly n: number;
}
type Op =
  | { readonly op: 'create' | 'update'; readonly id: string }
  | { readonly op: 'sync'; readonly id: string }
  | { readonly op: 'terminate'; readonly id: string; readonly grace: number | undefined }
  | { readonly op: 'syncKnown'; readonly ids: readonly string[] }
  | { readonly op: 'tick'; readonly ms: number }
  | { readonly op: 'settle' }
  | { readonly op: 'shutdown'; readonly deadlineMs: number | undefined };

const IDS = ['a', 'b', 'c', 'd'];
const id = fc.constantFrom(...IDS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('create' as const, 'update' as const), id }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('sync' as const), id }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('terminate' as const), id, grace: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: undefined }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('syncKnown' as const), ids: fc.subarray(IDS) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 4_000 }) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'settle' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('shutdown' as const), deadlineMs: fc.option(fc.integer({ min: 0, max: 5_000 }), { nil: undefined }) }) },
);
const behaviourArb = fc.array(fc.constantFrom<Behaviour>('ok', 'ok', 'ok', 'fail', 'throw', 'terminal', 'hang', 'slow', 'transient'), {
  minLength: 1,
  maxLength: 12,
});

/** Runs one random scenario and checks the invariants of DESIGN §3; returns nothing, throws on a violation. */
async function scenario(ops: readonly Op[], behaviours: readonly Behaviour[], seed: number): Promise<void> {
  const clock = new FakeClock(0);
  const syncer = new RecordingSyncer<Config>(clock);
  const lastGiven = new Map<string, Config>();
  const configMismatches: string[] = [];
  let b = 0;
  const act = (ctx: { id: string; config: Config; signal: AbortSignal }, hook: string): unknown => {
    if (ctx.config !== lastGiven.get(ctx.id)) configMismatches.push(`${hook} ${ctx.id}: ${JSON.stringify(ctx.config)}`);
    const what = behaviours[b++ % behaviours.length];
    switch (what) {
      case 'fail':
        return Promise.reject(new Error('fail'));
      case 'throw':
        throw new Error('sync throw');
      case 'terminal':
        return hook === 'syncProcess' ? { terminal: true } : undefined;
      case 'hang':
        return hangUntilAborted(ctx.signal);
      case 'slow':
        return sleep(clock, 300, ctx.signal);
      case 'transient':
        return Promise.reject(Object.assign(new Error('t'), { name: 'TimeoutError' }));
      default:
        return undefined;
    }
  };
  syncer.on('syncProcess', act).on('syncTerminating', act).on('syncTerminated', act);
  const events: ManagerEvent[] = [];
  const manager = new ProcessManager<Config>({
    syncer,
    clock,
    random: seededRandom(seed),
    resyncIntervalMs: 1_000,
    backoff: { baseMs: 100, maxMs: 2_000 },
    callTimeoutMs: 3_000,
    abortGraceMs: 500,
    defaultGracePeriodMs: 500,
    minGracePeriodMs: 100,
    terminatingSlackMs: 200,
    onEvent: (e) => events.push(e),
  });
  const promises: { settled: boolean; id: string | undefined; kind: string }[] = [];
  const track = (p: Promise<unknown>, kind: string, pid?: string): void => {
    const entry = { settled: false, id: pid, kind };
    promises.push(entry);
    // An unknown id has nothing to terminate: its terminate resolves at once, without a record.
    const wasTerminated = pid !== undefined && (manager.isTerminated(pid) || manager.getStatus(pid) === undefined);
    const from = events.length;
    p.then(
      () => {
        entry.settled = true;
        // A terminate resolves only once the id really is terminated (already, or by a Terminated phase since).
        const reached = events.slice(from).some((e) => e.type === 'phase' && e.id === pid && e.to === 'Terminated');
        if (kind === 'terminate' && !wasTerminated && !reached) throw new Error(`terminate(${pid}) resolved before Terminated`);
      },
      (err: unknown) => {
        entry.settled = true;
        if (!isProcmgrError(err)) throw new Error(`untyped rejection: ${String(err)}`);
      },
    ).catch((e: unknown) => configMismatches.push(String(e)));
  };
  let version = 0;
  const accepted = (fn: () => void): boolean => {
    try {
      fn();
      return true;
    } catch (err) {
      if (!isProcmgrError(err)) throw err;
      return false;
    }
  };

  // Ids given a create while terminating or finished (a restart is requested) until the record is purged.
  const restartWanted = new Set<string>();
  let seen = 0;
  for (const o of ops) {
    for (const e of events.slice(seen)) if (e.type === 'removed') restartWanted.delete(e.id);
    seen = events.length;
    switch (o.op) {
      case 'create':
      case 'update': {
        const config = { id: o.id, n: ++version };
        const phase = manager.getStatus(o.id)?.phase;
        const finished = phase === 'Finished';
        if (o.op === 'create' && (phase === 'Terminating' || phase === 'Terminated' || finished)) restartWanted.add(o.id);
        // A Finished id takes a config only as the one it restarts with.
        if (accepted(() => manager.updateProcess({ id: o.id, type: o.op, config })) && (!finished || restartWanted.has(o.id))) lastGiven.set(o.id, config);
        break;
      }
      case 'sync':
        accepted(() => manager.updateProcess({ id: o.id, type: 'sync' }));
        break;
      case 'terminate':
        track(manager.terminate(o.id, o.grace === undefined ? {} : { gracePeriodMs: o.grace }), 'terminate', o.id);
        break;
      case 'syncKnown':
        accepted(() => manager.syncKnownProcesses(o.ids));
        break;
      case 'tick':
        await clock.tick(o.ms);
        break;
      case 'settle':
        await clock.settle();
        break;
      case 'shutdown':
        track(manager.shutdown(o.deadlineMs === undefined ? {} : { deadlineMs: o.deadlineMs }), 'shutdown');
        break;
    }
  }
  track(manager.shutdown({ deadlineMs: 20_000 }), 'shutdown');
  await clock.runAll(60_000);
  await clock.settle();

  // Every promise the manager handed out settled.
  expect(promises.filter((p) => !p.settled)).toEqual([]);
  // At most one syncer call in flight per id.
  expect(syncer.overlaps).toEqual([]);
  // Every hook saw the last config given for its id (sticky, latest wins).
  expect(configMismatches).toEqual([]);
  // After shutdown: no timer, no worker, never a failed manager.
  expect(manager.state).toBe('shutDown');
  expect(clock.pendingTimers()).toBe(0);
  expect(manager.health().inFlight).toBe(0);
  // Phases only move forward, one incarnation of an id at a time.
  const last = new Map<string, Phase>();
  for (const e of events) {
    if (e.type === 'removed') last.delete(e.id);
    if (e.type !== 'phase') continue;
    const prev = last.get(e.id);
    expect(e.from).toBe(prev);
    if (prev !== undefined) expect(PHASES.indexOf(e.to)).toBeGreaterThan(PHASES.indexOf(prev));
    last.set(e.id, e.to);
  }
}

describe('ProcessManager model-based', () => {
  it('keeps its invariants under random operations and a misbehaving syncer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), behaviourArb, fc.integer(), scenario),
      { numRuns: Number(process.env.MODEL_RUNS ?? 1_000) },
    );
  }, 300_000);
});
