import type { ProbeSpec, ProcessSpec } from '../../../../src/config/index.js';
import type { ProbeCheck, ProbeEvent, ProbeName, ProbeResult, ProbeTarget } from '../../../../src/supervisor/probes/index.js';
import { ProbeSet, type Ticker } from '../../../../src/supervisor/probes/index.js';
import type { Logger } from '../../../../src/util/index.js';
import { FakeClock, sleep } from '../../../../src/util/index.js';

/**
 * How a scripted check behaves when called: a result, `hang` (settles only by rejecting on
 * abort), `ignore` (never settles, even on abort), `throw`, or `{ after, result }` (takes time).
 */
export type Behaviour = ProbeResult | 'hang' | 'ignore' | 'throw' | { readonly after: number; readonly result: ProbeResult };

/** One call a scripted check received. */
export interface Call {
  readonly probe: ProbeName;
  readonly at: number;
  readonly signal: AbortSignal;
}

/** A probe spec for the fake checks; the exec command names the probe so `checkFor` can tell them apart. */
export function probe(name: ProbeName, overrides: Partial<ProbeSpec> = {}): ProbeSpec {
  return {
    exec: { command: name, args: [] },
    initialDelay: 0,
    interval: 1_000,
    timeout: 500,
    failureThreshold: 3,
    successThreshold: 1,
    ...overrides,
  };
}

export const pass: ProbeResult = { ok: true, message: 'fine' };
export const fail: ProbeResult = { ok: false, message: 'broken' };

interface LogLine {
  readonly level: string;
  readonly obj: Record<string, unknown>;
  readonly msg: string | undefined;
}

/** A logger that keeps every line. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg?: string) => void lines.push({ level, obj, msg });
  const logger: Logger & { lines: LogLine[] } = {
    lines,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

/** A ProbeSet on a FakeClock whose checks follow a per-probe behaviour the test can change. */
export function fixture(
  probes: ProcessSpec['probes'],
  opts: { onChange?: (e: ProbeEvent) => void; abandonAfterMs?: number; coalesceMs?: number; clock?: FakeClock; ticker?: Ticker } = {},
) {
  const clock = opts.clock ?? new FakeClock();
  const logger = recordingLogger();
  const events: ProbeEvent[] = [];
  const calls: Call[] = [];
  const behaviour: Partial<Record<ProbeName, Behaviour>> = { startup: pass, liveness: pass, readiness: pass };
  const checkFor = (spec: ProbeSpec, _target: ProbeTarget): ProbeCheck => {
    const name = spec.exec?.command as ProbeName;
    return (signal) => {
      calls.push({ probe: name, at: clock.now(), signal });
      return act(behaviour[name] ?? pass, signal, clock);
    };
  };
  const set = new ProbeSet({
    id: 'web',
    probes,
    target: { env: {} },
    clock,
    logger,
    checkFor,
    abandonAfterMs: opts.abandonAfterMs,
    coalesceMs: opts.coalesceMs,
    ticker: opts.ticker,
    onChange: (e) => {
      events.push(e);
      opts.onChange?.(e);
    },
  });
  const callsOf = (name: ProbeName): Call[] => calls.filter((c) => c.probe === name);
  return { clock, logger, events, calls, callsOf, behaviour, set };
}

function act(b: Behaviour, signal: AbortSignal, clock: FakeClock): Promise<ProbeResult> {
  if (b === 'throw') throw new Error('check blew up');
  if (b === 'ignore') return new Promise(() => undefined);
  if (b === 'hang') {
    return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as unknown), { once: true }));
  }
  if ('after' in b) return sleep(clock, b.after, signal).then(() => b.result);
  return Promise.resolve(b);
}
