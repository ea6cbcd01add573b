import { enableCompileCache } from 'node:module';
import { setFlagsFromString } from 'node:v8';

/** The `procmgr` command. Exported for tests; `bin/procmgr.mjs` calls `main(process.argv)`. */
export async function main(argv: readonly string[]): Promise<void> {
  // Before anything else is loaded: Node then keeps the code it compiles on disk (in the OS temp
  // dir, or $NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off), and every later start
  // skips most of the parsing and compiling of procmgr and its dependencies. A cache that cannot be
  // written is not an error: Node just compiles as usual.
  enableCompileCache();
  const { runProgram } = await import('./program.js');
  // V8 grows the young generation up to 16 MiB per semi-space when much is allocated, and keeps
  // it: a daemon starting and probing 100 processes then holds ~100 MiB of young space for ~20 MiB
  // of live heap. Keeping it at its initial size: 206 → ~110 MiB peak RSS for that daemon, no CPU
  // cost we could measure. Set after the modules are loaded, which allocate a lot that lives
  // (with a small young space from the first line, a start took ~30 ms longer); at run time
  // because --max-semi-space-size would have to be on node's command line.
  setFlagsFromString('--semi-space-growth-factor=1');
  await runProgram(argv);
}
