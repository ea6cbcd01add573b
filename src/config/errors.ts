import { ProcmgrError } from '../util/index.js';
import type { z } from 'zod';

/** One problem in a config: where (`processes[2].probes.liveness.http.port`) and what is wrong. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** A config (file, API body, process spec) was rejected. `problems` names every bad field; nothing was applied. */
export class ConfigError extends ProcmgrError<'INVALID_CONFIG'> {
  readonly problems: readonly ConfigProblem[];

  constructor(what: string, problems: readonly ConfigProblem[]) {
    const list = problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ');
    super('INVALID_CONFIG', `invalid ${what}: ${list}`, { details: { problems } });
    this.problems = problems;
  }
}

/** Renders a zod path the way users write it: `processes[2].probes.liveness.http.port`. */
export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Turns zod issues into problems; the message names the value's type when zod's does not. */
export function problemsOf(error: z.ZodError, prefix = ''): ConfigProblem[] {
  return error.issues.map((i) => ({ path: formatPath(i.path, prefix), message: i.message }));
}
