import type { Registry } from 'prom-client';
import { importMetrics, type ApiBackend, type Metrics } from '../api/index.js';
import type { ManagerEvent } from '../core/index.js';
import type { SupervisorEvent } from '../supervisor/index.js';
import type { Clock } from '../util/index.js';

type Pending = { readonly kind: 'manager'; readonly event: ManagerEvent } | { readonly kind: 'supervisor'; readonly event: SupervisorEvent };

/**
 * The daemon's metrics, loaded once its processes have been started: loading prom-client would
 * otherwise delay the first spawn of every start. Events that arrive before are kept and
 * replayed, so no count is lost; until then `registry` is undefined and `/metrics` answers 404
 * for those few milliseconds.
 */
export class LazyMetrics {
  #metrics: Metrics | undefined;
  #pending: Pending[] = [];

  readonly #opts: { readonly backend: ApiBackend; readonly clock: Clock };

  constructor(opts: { readonly backend: ApiBackend; readonly clock: Clock }) {
    this.#opts = opts;
  }

  get registry(): Registry | undefined {
    return this.#metrics?.registry;
  }

  onManagerEvent(event: ManagerEvent): void {
    if (this.#metrics) this.#metrics.onManagerEvent(event);
    else this.#pending.push({ kind: 'manager', event });
  }

  onSupervisorEvent(event: SupervisorEvent): void {
    if (this.#metrics) this.#metrics.onSupervisorEvent(event);
    else this.#pending.push({ kind: 'supervisor', event });
  }

  /** Loads prom-client, builds the metrics and replays what happened so far. Idempotent. */
  async load(): Promise<void> {
    if (this.#metrics) return;
    const { createMetrics } = await importMetrics();
    this.#metrics ??= createMetrics(this.#opts);
    for (const p of this.#pending.splice(0)) {
      if (p.kind === 'manager') this.#metrics.onManagerEvent(p.event);
      else this.#metrics.onSupervisorEvent(p.event);
    }
  }
}
