// Writes the files that are generated from the zod schemas: `npm run docs`.
// test/unit/config/docs.test.ts fails when a committed file differs from what this renders.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { renderConfigDoc, renderConfigJsonSchema, renderCrdYaml, renderProcessSpecDoc, renderReadmeConfigTable, replaceBlock } from './docs-content.js';

const outputs: Array<[string, () => string]> = [
  ['../docs/process-spec.md', renderProcessSpecDoc],
  ['../docs/config.md', renderConfigDoc],
  ['../schema/procmgr.schema.json', renderConfigJsonSchema],
  ['../deploy/crd.yaml', renderCrdYaml],
];
for (const [path, render] of outputs) {
  const target = new URL(path, import.meta.url);
  mkdirSync(new URL('.', target), { recursive: true });
  writeFileSync(target, render());
  console.log(`wrote ${target.pathname}`);
}

// Generated blocks inside hand-written files.
const readme = new URL('../README.md', import.meta.url);
writeFileSync(readme, replaceBlock(readFileSync(readme, 'utf8'), 'config-table', renderReadmeConfigTable()));
console.log(`updated ${readme.pathname} (config-table)`);
