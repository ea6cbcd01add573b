/**
 * The logging port. Structurally a subset of pino's Logger, so a pino instance can be passed
 * as is; util and core depend on this type only, never on pino itself.
 */
export interface LogFn {
  (obj: Record<string, unknown>, msg?: string): void;
}

/** What procmgr's components log through; every line they write carries `process` when it concerns one. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const noop: LogFn = () => undefined;

/** Discards everything; the default when no logger is injected. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
