#!/usr/bin/env node
// The `procmgr` command. In a checkout it runs the TypeScript sources through tsx (so there is
// nothing to build first); an installed package or the container image runs the build: the
// bundled CLI (dist/bundle, from `npm run build`), or tsc's dist/cli when there is no bundle.
import { existsSync } from 'node:fs';

const src = new URL('../src/cli/main.ts', import.meta.url);
const bundle = new URL('../dist/bundle/procmgr.js', import.meta.url);
let entry = existsSync(bundle) ? bundle : new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(src)) {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    entry = src;
  } catch {
    // no tsx (a production install): fall back to the build
  }
}
/** @type {{ main: (argv: readonly string[]) => Promise<void> }} */
// eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- our own entry point, typed above
const cli = await import(entry.href);
await cli.main(process.argv);
