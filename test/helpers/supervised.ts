import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessSpecInput } from '../../src/config/index.js';
import { createSupervisedManager, type SupervisorEvent, type SupervisorOptions } from '../../src/supervisor/index.js';
import { eventually } from './eventually.js';
import type { ProcessManagerOptions } from '../../src/core/index.js';

/** Absolute path of a fixture under test/fixtures. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/** Node 24 (the pinned runtime running the tests) for node fixtures. */
export const NODE = process.execPath;


/** A temp dir removed by `cleanup`. */
export function tempDir(prefix = 'procmgr-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A real supervisor driven by a real engine on the real clock, recording every supervisor event.
 * `close()` shuts the manager down (stopping every process) and removes the temp dirs.
 */
export function supervised(opts: { supervisor?: SupervisorOptions; manager?: Partial<ProcessManagerOptions<ProcessSpecInput>> } = {}) {
  const events: SupervisorEvent[] = [];
  const dirs: string[] = [];
  const { manager, supervisor } = createSupervisedManager({
    supervisor: { adoptPollMs: 50, ...opts.supervisor, onEvent: (e) => events.push(e) },
    manager: { resyncIntervalMs: 60_000, backoff: { baseMs: 100, maxMs: 1_000 }, ...opts.manager },
  });
  const create = (id: string, spec: ProcessSpecInput): void => manager.updateProcess({ id, type: 'create', config: spec });
  const of = <T extends SupervisorEvent['type']>(type: T, id?: string) =>
    events.filter((e): e is Extract<SupervisorEvent, { type: T }> => e.type === type && (id === undefined || e.id === id));
  const state = (id: string) => supervisor.status(id)?.state;
  const pid = (id: string) => supervisor.status(id)?.pid;
  const running = (id: string) => eventually(`${id} Running`, () => (state(id) === 'Running' ? pid(id) : undefined));
  const dir = (): string => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
  const close = async (): Promise<void> => {
    if (manager.state === 'running') await manager.shutdown({ deadlineMs: 20_000 });
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  return { manager, supervisor, events, create, of, state, pid, running, dir, close };
}
