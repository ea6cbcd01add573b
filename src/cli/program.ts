import { Command, CommanderError } from 'commander';
import { config as zodConfig } from 'zod';
import { ApiError } from '../api/index.js';
import { EXIT, addRunCommands } from './run.js';
import { addRemoteCommands } from './remote.js';
import { addSidecarCommand } from './sidecar.js';
import { describe } from '../util/index.js';

// zod compiles a fast parser per schema on its first parse; a command parses its config once or a
// few times, where compiling costs more than it saves (on every daemon start). The CLI owns
// this process, so the global setting is ours to make (a library user's zod is left alone).
zodConfig({ jitless: true });

/** The `procmgr` command line, parsed and run (see `main`, which loads this module). */
export async function runProgram(argv: readonly string[]): Promise<void> {
  const program = new Command('procmgr')
    .description('A kubelet-style process manager: declare the processes you want, procmgr makes it so.')
    .showHelpAfterError()
    .exitOverride();
  addRunCommands(program);
  addSidecarCommand(program);
  addRemoteCommands(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not errors; usage mistakes are (commander already printed them).
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.invalidConfig;
      return;
    }
    // One line, no stack: the reader is a person at a terminal (or a script checking $?).
    console.error(`procmgr: ${describe(err)}`);
    process.exitCode = err instanceof ApiError && err.code === 'INVALID_CONFIG' ? EXIT.invalidConfig : EXIT.failed;
  }
}
