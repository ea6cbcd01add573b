import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { isConfigError, loadConfigFile, parseListen, type ConfigError } from '../config/index.js';
import { Daemon } from '../daemon/index.js';
import { isProcmgrError } from '../util/index.js';

/** The bundled example, run when `procmgr run` gets no file (from src/cli or dist/cli alike). */
export const EXAMPLE_CONFIG = fileURLToPath(new URL('../../examples/procmgr.yaml', import.meta.url));

/**
 * Exit codes of `procmgr` (also in the README):
 * 0 stopped cleanly (or `validate` found no problem); 1 failed at runtime (API could not bind, a
 * component failed, the daemon unreachable); 2 invalid config or usage; 3 stopped by force
 * (a second SIGTERM/SIGINT: what was still running was killed).
 */
export const EXIT = { ok: 0, failed: 1, invalidConfig: 2, forced: 3 } as const;

/** Prints a ConfigError one problem per line; true when it was one. */
export function reportConfigError(err: unknown): err is ConfigError {
  if (!isConfigError(err)) return false;
  const { problems, total } = err;
  const shown = total > problems.length ? ` (the first ${problems.length} shown)` : '';
  console.error(`invalid config: ${total} problem${total === 1 ? '' : 's'}${shown}`);
  for (const p of problems) console.error(`  ${p.path || '(root)'}: ${p.message}`);
  return true;
}

export function addRunCommands(program: Command): void {
  program
    .command('run')
    .description('run the daemon: supervise the processes of a config file, serve the API, hot-reload the file')
    .option('-c, --config <file>', 'config file (YAML or JSON)', EXAMPLE_CONFIG)
    .option('--listen <address>', 'override processManager.api.listen (host:port or unix:/path)', (v) => {
      // A usage error (exit 2) before anything starts, not a bind failure later.
      const parsed = parseListen(v);
      if (typeof parsed === 'string') throw new InvalidArgumentError(parsed);
      return v;
    })
    .action(async (opts: { config: string; listen?: string }) => {
      process.exitCode = await run(opts.config, opts.listen);
    });
  program
    .command('validate')
    .description('check a config file; print every problem and exit 2 if there is any')
    .argument('<file>', 'config file (YAML or JSON)')
    .action(async (file: string) => {
      try {
        const config = await loadConfigFile(file);
        console.log(`${file}: valid (${config.processes.length} process${config.processes.length === 1 ? '' : 'es'})`);
      } catch (err) {
        if (!reportConfigError(err)) throw err;
        process.exitCode = EXIT.invalidConfig;
      }
    });
}

async function run(configPath: string, listen: string | undefined): Promise<number> {
  let daemon: Daemon;
  try {
    daemon = await Daemon.load({ configPath, listen });
  } catch (err) {
    if (reportConfigError(err)) return EXIT.invalidConfig;
    throw err;
  }
  return serve(daemon);
}

/**
 * Runs a built daemon until a signal: SIGTERM/SIGINT stop it gracefully (a second one forces),
 * SIGHUP reloads. Resolves with the exit code. Shared by `run` and `sidecar`.
 */
export async function serve(daemon: Daemon): Promise<number> {
  const log = daemon.logger;
  let signals = 0;
  const finished = new Promise<number>((resolve) => {
    const onStop = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals === 1) {
        log.info({ signal }, 'stopping: every process gets its stop signal and grace period (send it again to kill them now)');
        daemon.stop().then(
          () => resolve(signals > 1 ? EXIT.forced : EXIT.ok),
          (err: unknown) => {
            if (signals > 1) return resolve(EXIT.forced); // the forced stop is what cut it short
            log.error({ err }, 'stopping failed');
            resolve(EXIT.failed);
          },
        );
      } else {
        log.warn({ signal }, 'second signal: killing what is still running');
        daemon
          .stop({ force: true })
          .catch((err: unknown) => log.error({ err }, 'forced stop failed'))
          .finally(() => resolve(EXIT.forced));
      }
    };
    process.on('SIGTERM', onStop).on('SIGINT', onStop);
  });
  process.on('SIGHUP', () => void daemon.reload('SIGHUP')); // never rejects: failures are logged
  try {
    await daemon.start();
  } catch (err) {
    // A signal during startup: what started is being stopped; exit as that stop says.
    if (isProcmgrError(err) && err.code === 'START_ABORTED') return finished;
    log.fatal({ err }, 'procmgr could not start');
    await daemon.stop().catch(() => undefined);
    return EXIT.failed;
  }
  return finished;
}
