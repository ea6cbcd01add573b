// Writes the files that are generated from the zod schemas: `npm run docs`.
// test/unit/config/docs.test.ts fails when a committed file differs from what this renders.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { renderCliReference, renderConfigDoc, renderConfigJsonSchema, renderCrdYaml, renderProcessSpecDoc, replaceBlock } from './docs-content.js';

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
const blocks: Array<[string, string, () => string]> = [['../docs/cli.md', 'cli-reference', renderCliReference]];
for (const [path, name, render] of blocks) {
  const target = new URL(path, import.meta.url);
  writeFileSync(target, replaceBlock(readFileSync(target, 'utf8'), name, render()));
  console.log(`updated ${target.pathname} (${name})`);
}
