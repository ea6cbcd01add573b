// Writes the docs that are generated from the zod schemas: `npm run docs`.
// test/unit/config/docs.test.ts fails when a committed file differs from what this renders.
import { writeFileSync } from 'node:fs';
import { renderProcessSpecDoc } from './docs-content.js';

const target = new URL('../docs/process-spec.md', import.meta.url);
writeFileSync(target, renderProcessSpecDoc());
console.log(`wrote ${target.pathname}`);
