import { enableCompileCache } from 'node:module';
import { setFlagsFromString } from 'node:v8';

/** The `procmgr` command. Exported for tests; `bin/procmgr.mjs` calls `main(process.argv)`. */
export async function main(argv: readonly string[]): Promise<void> {
  // The only Node/V8 flag procmgr sets, here rather than on node's command line so that every way
  // of starting it gets it (`procmgr` on PATH, `npx`, `npm start`, `node bin/procmgr.mjs`, the
  // image), and not in NODE_OPTIONS, which the processes procmgr starts would inherit. V8 grows
  // the young generation when a scavenge finds much still alive, and never shrinks it back: a
  // daemon that allocates a little all day then holds far more young space than live heap.
  // Keeping the semi-space at its initial size lowers the idle daemon's peak RSS with no CPU or
  // start-up cost we could measure.
  setFlagsFromString('--semi-space-growth-factor=1');
  // Before anything else is loaded: Node then keeps the code it compiles on disk (in the OS temp
  // dir, or $NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off), and every later start
  // skips most of the parsing and compiling of procmgr and its dependencies. A cache that cannot be
  // written is not an error: Node just compiles as usual.
  enableCompileCache();
  const { runProgram } = await import('./program.js');
  await runProgram(argv);
}
