import { z } from 'zod';
import { canonicalJson } from '../util/index.js';

/**
 * Renders a zod schema as a Markdown options table, so the docs come from the same schema that
 * validates (DESIGN §5) and cannot drift. Called by `hack/gen-docs.ts`; a unit test fails when the
 * committed docs differ from what this renders.
 */

interface JsonSchema {
  readonly type?: string;
  readonly title?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly anyOf?: readonly JsonSchema[];
  readonly items?: JsonSchema;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
}

function typeOf(s: JsonSchema): string {
  if (s.title === 'duration' || s.title === 'size') return s.title;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' | ');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' | ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  if (s.type === 'object') return s.properties ? 'object' : 'map of string';
  return s.type ?? 'any';
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function rows(s: JsonSchema, path: string, out: string[]): void {
  const props = Object.entries(s.properties ?? {});
  // Siblings with the same schema (probes.startup/liveness/readiness) are documented once.
  const same = props.length > 1 && props.every(([, v]) => canonicalJson(v) === canonicalJson(props[0]?.[1]));
  const entries: Array<[string, JsonSchema]> = same && props[0] ? [[`<${props.map(([k]) => k).join('|')}>`, props[0][1]]] : props;
  for (const [key, v] of entries) {
    const name = `${path}${key}`;
    const required = s.required?.includes(key) && v.default === undefined;
    const def = v.default === undefined ? (required ? 'required' : '') : `\`${JSON.stringify(v.default)}\``;
    out.push(`| \`${cell(name)}\` | ${cell(typeOf(v))} | ${def} | ${cell(v.description ?? '')} |`);
    if (v.type === 'object' && v.properties) rows(v, `${name}.`, out);
  }
}

/** The Markdown table of every field of `schema` (nested fields as dotted paths), with types and defaults. */
export function optionsTable(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out = ['| field | type | default | description |', '|---|---|---|---|'];
  rows(json, '', out);
  return `${out.join('\n')}\n`;
}
