import { processIdSchema } from './daemon-config.js';
import { showValue, type ConfigProblem } from './errors.js';

/** A non-null, non-array object (a YAML mapping). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The checks zod cannot make per entry: unique ids, dependencies that exist, are not the process
 * itself, and form no cycle. Works on the raw list so they are reported even when other fields
 * of the same entries are bad; entries whose id is unusable are skipped (zod reports those).
 */
export function graphProblems(list: unknown, prefix: string): ConfigProblem[] {
  if (!Array.isArray(list)) return [];
  const problems: ConfigProblem[] = [];
  const first = new Map<string, number>();
  const deps = new Map<string, string[]>();
  const entries = list.map((e: unknown) => (isObject(e) && processIdSchema.safeParse(e.id).success ? e : undefined));
  entries.forEach((e, i) => {
    if (!e) return;
    const id = e.id as string;
    const seen = first.get(id);
    if (seen === undefined) first.set(id, i);
    else problems.push({ path: `${prefix}[${i}].id`, message: `duplicate id ${showValue(id)} (also ${prefix}[${seen}])` });
  });
  entries.forEach((e, i) => {
    // A duplicate's own dependencies are checked too (all problems at once); the first entry's make the graph.
    if (!e || !Array.isArray(e.dependsOn)) return;
    const id = e.id as string;
    const ok: string[] = [];
    e.dependsOn.forEach((item: unknown, k) => {
      const dep = typeof item === 'string' ? item : isObject(item) && typeof item.id === 'string' ? item.id : undefined;
      if (dep === undefined) return; // zod reports it
      const path = `${prefix}[${i}].dependsOn[${k}]`;
      if (dep === id) problems.push({ path, message: `${showValue(dep)} is this process itself; expected the id of another process` });
      else if (!first.has(dep)) problems.push({ path, message: `unknown id ${showValue(dep)}; ${idList([...first.keys()].filter((x) => x !== id))}` });
      else ok.push(dep);
    });
    if (first.get(id) === i) deps.set(id, ok);
  });
  for (const cycle of cyclesOf(deps, first)) {
    const [head] = cycle;
    problems.push({ path: `${prefix}[${first.get(head ?? '') ?? 0}].dependsOn`, message: `dependency cycle ${cycleText(cycle)}; expected dependencies without cycles` });
  }
  return problems;
}

function cycleText(cycle: string[]): string {
  const ids = cycle.length <= 12 ? cycle : [...cycle.slice(0, 10), `… (${cycle.length - 11} more)`, ...cycle.slice(-1)];
  return [...ids, cycle[0]].join(' -> ');
}

function idList(ids: string[]): string {
  if (ids.length === 0) return 'expected the id of another process, and there is none';
  const shown = ids.slice(0, 10).map((id) => JSON.stringify(id)).join(', ');
  return `expected one of ${ids.length > 10 ? `${shown}, … (${ids.length} ids)` : shown}`;
}

/**
 * Each cycle found by a depth-first walk in entry order, once, starting at its earliest entry.
 * Iterative, so a long chain of dependencies (an API body of thousands) cannot overflow the stack.
 */
function cyclesOf(deps: ReadonlyMap<string, string[]>, order: ReadonlyMap<string, number>): string[][] {
  const done = new Set<string>();
  const onPath = new Map<string, number>(); // id → its index in `path`
  const cycles = new Map<string, string[]>();
  for (const root of deps.keys()) {
    if (done.has(root)) continue;
    const path: Array<{ id: string; next: number }> = [{ id: root, next: 0 }];
    onPath.set(root, 0);
    while (path.length > 0) {
      const top = path[path.length - 1] as { id: string; next: number };
      const dep = (deps.get(top.id) ?? [])[top.next++];
      if (dep === undefined) {
        path.pop();
        onPath.delete(top.id);
        done.add(top.id);
      } else if (onPath.has(dep)) {
        const cycle = path.slice(onPath.get(dep)).map((f) => f.id);
        const at = cycle.reduce((best, x, i) => ((order.get(x) ?? 0) < (order.get(cycle[best] ?? '') ?? 0) ? i : best), 0);
        const rotated = [...cycle.slice(at), ...cycle.slice(0, at)];
        cycles.set(rotated.join('\0'), rotated);
      } else if (!done.has(dep)) {
        onPath.set(dep, path.length);
        path.push({ id: dep, next: 0 });
      }
    }
  }
  return [...cycles.values()];
}
