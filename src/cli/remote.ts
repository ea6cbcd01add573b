import { InvalidArgumentError, type Command } from 'commander';
import { ApiError, createApiClient, findTokenFile, parseListen, tokenDirs, tokenFileName, type ApiClient } from '../api/index.js';
import { readTokenFile } from '../config/index.js';
import { statusTable } from './format.js';

/** Options every command that talks to a running daemon takes. */
interface RemoteOptions {
  readonly api: string;
  readonly token?: string;
  readonly tokenFile?: string;
}

const DEFAULT_API = '127.0.0.1:7070';

/** A token and where it came from (for the hint on a 401), or none found. */
interface FoundToken {
  readonly token: string | undefined;
  readonly source: string;
}

/**
 * The token to send, in this order: `--token`/PROCMGR_TOKEN, `--token-file`/PROCMGR_TOKEN_FILE,
 * then the token a daemon of this user generated for the port (see token-file.ts). A unix
 * socket needs none.
 */
async function findToken(opts: RemoteOptions): Promise<FoundToken> {
  if (opts.token !== undefined) return { token: opts.token, source: '--token (or PROCMGR_TOKEN)' };
  if (opts.tokenFile !== undefined) return { token: await readTokenFile(opts.tokenFile, '--token-file'), source: opts.tokenFile };
  const target = parseListen(opts.api.replace(/^http:\/\//, '').replace(/\/$/, ''));
  if (target.kind === 'unix') return { token: undefined, source: 'none (a unix socket needs none)' };
  const found = await findTokenFile(target.port);
  if (found) return { token: found.token, source: found.path };
  const where = tokenDirs().map((d) => `${d}/${tokenFileName(target.port)}`).join(', ');
  return { token: undefined, source: `none: no --token, --token-file, PROCMGR_TOKEN(_FILE), nor a token of this user's daemon in ${where}` };
}

/** Runs `fn` with a client; a refusal for want of the right token says which token was sent. */
async function withClient(opts: RemoteOptions, fn: (c: ApiClient) => Promise<void>): Promise<void> {
  const found = await findToken(opts);
  try {
    await fn(createApiClient({ address: opts.api, token: found.token }));
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.code === 'TOKEN_REQUIRED')) {
      throw new ApiError(err.code, err.status, `${err.message} (token sent: ${found.source}; a daemon run by another user keeps its token to itself)`, { details: { ...err.details }, cause: err });
    }
    throw err;
  }
}

function remote(cmd: Command): Command {
  return cmd
    .option('--api <address>', 'the daemon\'s API: host:port or unix:/path (env PROCMGR_API)', process.env.PROCMGR_API ?? DEFAULT_API)
    .option('--token <token>', 'bearer token (env PROCMGR_TOKEN; a flag is visible to other users in ps, prefer the env or --token-file)', process.env.PROCMGR_TOKEN)
    .option('--token-file <file>', 'file holding the bearer token (env PROCMGR_TOKEN_FILE); default: the token this user\'s daemon generated', process.env.PROCMGR_TOKEN_FILE);
}

/** status, restart, stop, start, logs: the commands that talk to a running daemon over its API. */
export function addRemoteCommands(program: Command): void {
  remote(program.command('status').description('show every process: state, pid, uptime, restarts, readiness'))
    .argument('[id]', 'only this process')
    .option('--json', 'print the API\'s JSON instead of a table')
    .action((id: string | undefined, opts: RemoteOptions & { json?: boolean }) =>
      withClient(opts, async (c) => {
        const list = id === undefined ? await c.list() : [await c.get(id)];
        console.log(opts.json ? JSON.stringify(list, null, 2) : statusTable(list));
      }),
    );
  for (const action of ['restart', 'stop', 'start'] as const) {
    const what = { restart: 'stop (within its grace) and start again', stop: 'stop and keep stopped until `start`', start: 'start a stopped process' }[action];
    remote(program.command(action).description(`${what}`))
      .argument('<id>', 'process id')
      .action((id: string, opts: RemoteOptions) =>
        withClient(opts, async (c) => {
          await c[action](id);
          console.log(`${id}: ${action} requested`);
        }),
      );
  }
  remote(program.command('logs').description('print the recent output of a process; -f follows it'))
    .argument('<id>', 'process id')
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('-n, --tail <lines>', 'how many buffered lines to print first', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number of lines, got "${v}"`);
      return n;
    })
    .action((id: string, opts: RemoteOptions & { follow?: boolean; tail?: number }) =>
      withClient(opts, async (c) => {
        const print = (l: { stream: string; line: string }): void => void process.stdout.write(`${l.stream === 'stderr' ? '[err] ' : ''}${l.line}\n`);
        const tail = opts.tail === undefined ? {} : { tail: opts.tail };
        if (!opts.follow) {
          for (const l of await c.logs(id, tail)) print(l);
          return;
        }
        const stop = new AbortController();
        const onSignal = (): void => stop.abort(new Error('interrupted'));
        process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
        try {
          await c.followLogs(id, print, stop.signal, tail);
        } catch (err) {
          if (!stop.signal.aborted) throw err;
        }
      }),
    );
}
