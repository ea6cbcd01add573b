import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { parseDuration, parseListen } from '../config/index.js';
import { EXIT, serve } from './run.js';

interface SidecarFlags {
  readonly processset?: string;
  readonly configmap?: string;
  readonly key: string;
  readonly namespace?: string;
  readonly kubeconfig?: string;
  readonly listen: string;
  readonly tokenFile?: string;
  readonly shutdownWriteTimeout: number;
}

/** Past this the pod's grace period (30 s by default) would be gone anyway. */
const MAX_SHUTDOWN_WRITE_TIMEOUT_MS = 60_000;

/** `procmgr sidecar`: the daemon in a pod, fed by a ProcessSet (issue #5). */
export function addSidecarCommand(program: Command): void {
  program
    .command('sidecar')
    .description('run in a Kubernetes pod: supervise the processes of a ProcessSet, report status and Events back')
    .option('--processset <name>', 'the ProcessSet to serve (env PROCMGR_PROCESSSET)', process.env.PROCMGR_PROCESSSET)
    .option('--configmap <name>', 'serve a ConfigMap key instead of a ProcessSet (env PROCMGR_CONFIGMAP)', process.env.PROCMGR_CONFIGMAP)
    .option('--key <key>', 'the ConfigMap key holding the processes (YAML)', 'processes.yaml')
    .option('--namespace <ns>', 'its namespace (env POD_NAMESPACE)', process.env.POD_NAMESPACE)
    .option('--kubeconfig <file>', 'a kubeconfig (default: in-cluster, else $KUBECONFIG or ~/.kube/config)')
    .option('--listen <address>', 'the API address (host:port or unix:/path)', (v) => {
      const parsed = parseListen(v);
      if (typeof parsed === 'string') throw new InvalidArgumentError(parsed);
      return v;
    }, '0.0.0.0:7070')
    .option('--token-file <file>', 'file with the bearer token the API requires for process data and changes, e.g. a mounted Secret; re-read on SIGHUP (env PROCMGR_TOKEN_FILE)', process.env.PROCMGR_TOKEN_FILE)
    .addOption(
      new Option('--shutdown-write-timeout <duration>', 'at shutdown, after the processes stopped, how long the last status and Event writes may take')
        .argParser((v) => {
          const ms = parseDuration(v.trim());
          if (ms === undefined || ms > MAX_SHUTDOWN_WRITE_TIMEOUT_MS) throw new InvalidArgumentError(`expected a duration like "2s", at most 60s, got ${JSON.stringify(v)}`);
          return ms;
        })
        .default(2_000, '2s'),
    )
    .action(async (flags: SidecarFlags) => {
      const name = flags.processset ?? flags.configmap;
      if (!name || !flags.namespace || (flags.processset && flags.configmap)) {
        console.error('procmgr sidecar: needs --namespace and one of --processset or --configmap (or PROCMGR_PROCESSSET / PROCMGR_CONFIGMAP and POD_NAMESPACE)');
        process.exitCode = EXIT.invalidConfig;
        return;
      }
      const podName = process.env.POD_NAME;
      // Loaded here only: @kubernetes/client-node is big, and `procmgr run` does not need it.
      const { createSidecar } = await import('../daemon/sidecar.js');
      const daemon = createSidecar({
        name,
        namespace: flags.namespace,
        configMapKey: flags.configmap ? flags.key : undefined,
        kubeconfig: flags.kubeconfig,
        listen: flags.listen,
        tokenFile: flags.tokenFile,
        shutdownWriteTimeoutMs: flags.shutdownWriteTimeout,
        pod: podName ? { name: podName, uid: process.env.POD_UID } : undefined,
      });
      const code = await serve(daemon);
      // Everything the daemon started has stopped. What can remain are requests to an API server
      // that did not answer (client-node's calls cannot be aborted); they must not keep the pod's
      // container running past the final writes' deadline.
      process.exit(code);
    });
}
