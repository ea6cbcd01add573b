// Writes the files that are generated from the zod schemas: `npm run docs`.
// test/unit/config/docs.test.ts fails when a committed file differs from what this renders.
import { mkdirSync, writeFileSync } from 'node:fs';
import { renderConfigDoc, renderConfigJsonSchema, renderProcessSpecDoc } from './docs-content.js';

const outputs: Array<[string, () => string]> = [
  ['../docs/process-spec.md', renderProcessSpecDoc],
  ['../docs/config.md', renderConfigDoc],
  ['../schema/procmgr.schema.json', renderConfigJsonSchema],
];
for (const [path, render] of outputs) {
  const target = new URL(path, import.meta.url);
  mkdirSync(new URL('.', target), { recursive: true });
  writeFileSync(target, render());
  console.log(`wrote ${target.pathname}`);
}
