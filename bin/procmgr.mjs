#!/usr/bin/env node
// The `procmgr` command. In a checkout it runs the TypeScript sources through tsx (so there is
// nothing to build first); an installed package or the container image runs the compiled dist/.
import { existsSync } from 'node:fs';

const src = new URL('../src/cli/main.ts', import.meta.url);
let entry = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(src)) {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    entry = src;
  } catch {
    // no tsx (a production install): fall back to dist/
  }
}
/** @type {{ main: (argv: readonly string[]) => Promise<void> }} */
// eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- our own entry point, typed above
const cli = await import(entry.href);
await cli.main(process.argv);
