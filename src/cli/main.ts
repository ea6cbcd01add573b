import { Command, CommanderError } from 'commander';
import { ApiError } from '../api/index.js';
import { EXIT, addRunCommands } from './run.js';
import { addRemoteCommands } from './remote.js';
import { addSidecarCommand } from './sidecar.js';

/** The `procmgr` command. Exported for tests; `bin/procmgr.mjs` calls `main(process.argv)`. */
export async function main(argv: readonly string[]): Promise<void> {
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
    console.error(`procmgr: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = err instanceof ApiError && err.code === 'INVALID_CONFIG' ? EXIT.invalidConfig : EXIT.failed;
  }
}
