import type { Logger } from '../util/index.js';

/** A part of the daemon with a start and a stop hook (seeds 001/002: lifecycle actors). */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts components in order and stops them in reverse. A failed start stops what already
 * started (in reverse) and rethrows, so a daemon that cannot come up leaves nothing running.
 * Stop is idempotent and stops every started component even when one of them throws.
 */
export class Lifecycle {
  readonly #components: readonly Component[];
  readonly #logger: Logger;
  #started: Component[] = [];
  #stopping: Promise<void> | undefined;

  constructor(components: readonly Component[], logger: Logger) {
    this.#components = components;
    this.#logger = logger;
  }

  async start(): Promise<void> {
    for (const c of this.#components) {
      try {
        await c.start();
      } catch (err) {
        this.#logger.error({ component: c.name, err }, 'start failed; stopping what started');
        await this.stop();
        throw err;
      }
      this.#started.push(c);
      this.#logger.debug({ component: c.name }, 'started');
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll().finally(() => (this.#stopping = undefined));
    return this.#stopping;
  }

  async #stopAll(): Promise<void> {
    const errors: unknown[] = [];
    for (const c of this.#started.splice(0).reverse()) {
      try {
        await c.stop();
        this.#logger.debug({ component: c.name }, 'stopped');
      } catch (err) {
        errors.push(err);
        this.#logger.error({ component: c.name, err }, 'stop failed');
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} component(s) failed to stop`);
  }
}
