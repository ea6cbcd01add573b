import { enableCompileCache } from 'node:module';

/** The `procmgr` command. Exported for tests; `bin/procmgr.mjs` calls `main(process.argv)`. */
export async function main(argv: readonly string[]): Promise<void> {
  // Before anything else is loaded: Node then keeps the code it compiles on disk (in the OS temp
  // dir, or $NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off), and every later start
  // skips most of the parsing and compiling of procmgr and its dependencies. A cache that cannot be
  // written is not an error: Node just compiles as usual.
  enableCompileCache();
  const { runProgram } = await import('./program.js');
  await runProgram(argv);
}
