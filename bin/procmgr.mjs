#!/usr/bin/env node
// The `procmgr` command. In a checkout it runs the TypeScript sources through tsx (so there is
// nothing to build first); an installed package or the container image runs the build: the
// bundled CLI (dist/bundle, from `npm run build`), or tsc's dist/cli when there is no bundle.
import { existsSync } from 'node:fs';

// Before anything that needs a newer Node is loaded: one line, not a SyntaxError from deep inside.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(`procmgr: needs Node >= 22, but this is Node ${process.version} (${process.execPath})\n`);
  process.exit(1);
}

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
