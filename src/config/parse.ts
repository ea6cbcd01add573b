import { ConfigError, problemsOf } from './errors.js';
import { processSpecSchema, type ProcessSpec } from './process-spec.js';

/** Parses one process spec; throws `ConfigError` naming every bad field. `where` prefixes the paths. */
export function parseProcessSpec(input: unknown, where = ''): ProcessSpec {
  const result = processSpecSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw new ConfigError(where === '' ? 'process spec' : `process spec ${where}`, problemsOf(result.error, where, processSpecSchema));
  return result.data;
}
