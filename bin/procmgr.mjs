#!/usr/bin/env -S node --max-semi-space-size=1 --no-concurrent-recompilation
// Node flags, the same in package.json's start script and deploy/Dockerfile's ENTRYPOINT (a unit
// test keeps them equal), for the memory of a long-running daemon. Each was measured on an idle
// daemon with 100 probed processes, with no cost in CPU or start time in the daemon benchmark:
// - a 1 MiB semi-space caps V8's young generation, which otherwise grows to 16 MiB per semi-space
//   in a process that allocates a little all day: peak RSS ~7 MiB lower;
// - optimizing compiles on the main thread instead of a helper thread, whose malloc arena kept
//   the compilers' freed memory: ~8 MiB lower again.
// They are not in NODE_OPTIONS, which the processes procmgr starts would inherit.
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
