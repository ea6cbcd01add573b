import { InvalidArgumentError, type Command } from 'commander';
import { createApiClient, type ApiClient } from '../api/client.js';
import { statusTable } from './format.js';

/** Options every command that talks to a running daemon takes. */
interface RemoteOptions {
  readonly api: string;
  readonly token?: string;
}

const DEFAULT_API = '127.0.0.1:7070';

function client(opts: RemoteOptions): ApiClient {
  return createApiClient({ address: opts.api, token: opts.token });
}

function remote(cmd: Command): Command {
  return cmd
    .option('--api <address>', 'the daemon\'s API: host:port or unix:/path (env PROCMGR_API)', process.env.PROCMGR_API ?? DEFAULT_API)
    .option('--token <token>', 'bearer token for changes (env PROCMGR_TOKEN)', process.env.PROCMGR_TOKEN);
}

/** status, restart, stop, start, logs: the commands that talk to a running daemon over its API. */
export function addRemoteCommands(program: Command): void {
  remote(program.command('status').description('show every process: state, pid, uptime, restarts, readiness'))
    .argument('[id]', 'only this process')
    .option('--json', 'print the API\'s JSON instead of a table')
    .action(async (id: string | undefined, opts: RemoteOptions & { json?: boolean }) => {
      const c = client(opts);
      const list = id === undefined ? await c.list() : [await c.get(id)];
      console.log(opts.json ? JSON.stringify(list, null, 2) : statusTable(list));
    });
  for (const action of ['restart', 'stop', 'start'] as const) {
    const what = { restart: 'stop (within its grace) and start again', stop: 'stop and keep stopped until `start`', start: 'start a stopped process' }[action];
    remote(program.command(action).description(`${what}`))
      .argument('<id>', 'process id')
      .action(async (id: string, opts: RemoteOptions) => {
        await client(opts)[action](id);
        console.log(`${id}: ${action} requested`);
      });
  }
  remote(program.command('logs').description('print the recent output of a process; -f follows it'))
    .argument('<id>', 'process id')
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('-n, --tail <lines>', 'how many buffered lines to print first', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number of lines, got "${v}"`);
      return n;
    })
    .action(async (id: string, opts: RemoteOptions & { follow?: boolean; tail?: number }) => {
      const c = client(opts);
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
    });
}
