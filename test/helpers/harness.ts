import { FakeClock } from '../../src/util/index.js';
import { ProcessManager, type ManagerEvent, type Phase, type ProcessManagerOptions } from '../../src/core/index.js';
import { RecordingSyncer } from './recording-syncer.js';

/** The config type the unit tests use. */
export interface TestConfig {
  readonly version: number;
  readonly graceMs?: number;
}

/** A manager on a fake clock with a recording syncer, a fixed random (no jitter drift) and an event log. */
export function harness(options: Partial<ProcessManagerOptions<TestConfig>> = {}) {
  const clock = new FakeClock();
  const syncer = new RecordingSyncer<TestConfig>(clock);
  const events: ManagerEvent[] = [];
  const manager = new ProcessManager<TestConfig>({
    syncer,
    clock,
    random: () => 0.5,
    onEvent: (e) => events.push(e),
    ...options,
  });
  const phases = (id: string): Phase[] =>
    events.flatMap((e) => (e.type === 'phase' && e.id === id ? [e.to] : []));
  const requeues = (id: string) => events.flatMap((e) => (e.type === 'requeue' && e.id === id ? [e] : []));
  return { clock, syncer, manager, events, phases, requeues };
}

/** Creates `id` with config `{ version }`. */
export function create(m: ProcessManager<TestConfig>, id: string, version = 1): void {
  m.updateProcess({ id, type: 'create', config: { version } });
}
