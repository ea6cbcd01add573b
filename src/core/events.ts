import { describe, type Clock, type Logger } from '../util/index.js';
import { phaseOf, type PhaseStamps } from './phase.js';
import type { ManagerEvent, Phase } from './types.js';

/**
 * Delivers ManagerEvents to the user's listener. A listener is user code: its throw is logged
 * and ignored. Callers check `on` before building an event, so an engine without a listener
 * allocates nothing for observability.
 */
export class Events {
  readonly on: ((event: ManagerEvent) => void) | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;

  constructor(on: ((event: ManagerEvent) => void) | undefined, clock: Clock, log: Logger) {
    this.on = on;
    this.#clock = clock;
    this.#log = log;
  }

  /** A phase event for a record that just moved on from `from`. */
  phase(rec: PhaseStamps & { readonly id: string }, from: Phase | undefined): void {
    if (this.on) this.emit({ type: 'phase', id: rec.id, from, to: phaseOf(rec), at: this.#clock.now() });
  }

  emit(event: ManagerEvent): void {
    if (!this.on) return;
    try {
      this.on(event);
    } catch (err) {
      this.#log.warn({ process: 'id' in event ? event.id : undefined, err: describe(err), event: event.type }, 'onEvent listener threw; ignored');
    }
  }
}
