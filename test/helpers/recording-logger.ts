import type { Logger } from '../../src/util/index.js';

/** One line a component logged. */
export interface LogRecord {
  level: string;
  obj: { [k: string]: unknown };
  msg: string | undefined;
}

/** A Logger that appends every line to `records` (children log to the same list). */
export function recordingLogger(records: LogRecord[]): Logger {
  const at = (level: string) => (obj: { [k: string]: unknown }, msg?: string) => void records.push({ level, obj, msg });
  const logger: Logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}
