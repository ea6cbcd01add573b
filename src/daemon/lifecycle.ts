import { ProcmgrError, type Logger } from '../util/index.js';

/** A part of the daemon with a start and a stop hook (seeds 001/002: lifecycle actors). */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** `start` gave up because a stop was asked for while it ran (a signal during startup). */
export class StartAbortedError extends ProcmgrError<'START_ABORTED'> {
  constructor() {
    super('START_ABORTED', 'stopped while starting');
  }
}

/**
 * Starts components in order and stops them in reverse. A failed start stops what already
 * started (in reverse) and rethrows, so a daemon that cannot come up leaves nothing running.
 * A stop asked for during `start` waits for the component being started, starts no further one
 * (`start` rejects with `StartAbortedError`) and stops what did start. Stop is idempotent and
 * stops every started component even when one of them throws.
 */
export class Lifecycle {
  readonly #components: readonly Component[];
  readonly #logger: Logger;
  #started: Component[] = [];
  #starting: Promise<void> | undefined;
  #stopRequested = false;
  #stopping: Promise<void> | undefined;

  constructor(components: readonly Component[], logger: Logger) {
    this.#components = components;
    this.#logger = logger;
  }

  start(): Promise<void> {
    this.#starting ??= this.#startAll();
    return this.#starting;
  }

  async #startAll(): Promise<void> {
    for (const c of this.#components) {
      if (this.#stopRequested) throw new StartAbortedError();
      try {
        await c.start();
      } catch (err) {
        this.#logger.error({ component: c.name, err }, 'start failed; stopping what started');
        await this.#stopAll().catch(() => undefined); // each failure is logged there
        throw err;
      }
      this.#started.push(c);
      this.#logger.debug({ component: c.name }, 'started');
    }
    if (this.#stopRequested) throw new StartAbortedError();
  }

  stop(): Promise<void> {
    this.#stopRequested = true;
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined); // the component being started finishes first
      await this.#stopAll();
    })().finally(() => (this.#stopping = undefined));
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
