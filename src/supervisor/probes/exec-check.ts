import { spawn } from 'node:child_process';
import { describe } from '../../util/index.js';
import type { ProbeCheck, ProbeResult, ProbeTarget } from './types.js';

/** The `exec` part of a parsed probe spec. */
export interface ExecProbeOptions {
  readonly command: string;
  readonly args: readonly string[];
}

// Enough output to explain a failure in one status line.
const MAX_OUTPUT_BYTES = 1024;
const MAX_MESSAGE_CHARS = 200;

/**
 * An exec check, built by `createCheck`: runs `command` without a shell, with the target's env and
 * cwd, in its own process group; exit 0 passes. When the command exits, or the signal aborts, the
 * whole group gets SIGKILL, so nothing the probe forked outlives the check.
 */
export function execCheck(opts: ExecProbeOptions, target: ProbeTarget): ProbeCheck {
  return (signal) =>
    new Promise<ProbeResult>((resolve, reject) => {
      signal.throwIfAborted();
      const child = spawn(opts.command, opts.args, {
        env: target.env,
        cwd: target.cwd,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const chunks: Buffer[] = [];
      let captured = 0;
      const capture = (chunk: Buffer): void => {
        if (captured >= MAX_OUTPUT_BYTES) return;
        chunks.push(chunk.subarray(0, MAX_OUTPUT_BYTES - captured));
        captured += chunk.length;
      };
      child.stdout.on('data', capture);
      child.stderr.on('data', capture);

      let aborted = false;
      const onAbort = (): void => {
        aborted = true;
        killGroup(child.pid);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = (settle: () => void): void => {
        signal.removeEventListener('abort', onAbort);
        // Pipes held open by an escaped grandchild must not keep this check's handles alive.
        child.stdout.destroy();
        child.stderr.destroy();
        settle();
      };

      child.once('error', (err) => finish(() => (aborted ? reject(signal.reason as unknown) : resolve({ ok: false, message: describe(err) }))));
      child.once('exit', (code, sig) => {
        // Background jobs the probe started share its group; they die with it.
        killGroup(child.pid);
        if (aborted) {
          finish(() => reject(signal.reason as unknown));
          return;
        }
        const output = summarize(Buffer.concat(chunks).toString('utf8'));
        const status = code !== null ? `exit code ${code}` : `killed by ${sig ?? 'a signal'}`;
        finish(() => resolve({ ok: code === 0, message: output === '' || code === 0 ? status : `${status}: ${output}` }));
      });
    });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone. EPERM cannot happen for our own child's group, and
    // throwing here, inside an event handler, would take the whole daemon down.
  }
}

function summarize(output: string): string {
  const flat = output.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_MESSAGE_CHARS ? `${flat.slice(0, MAX_MESSAGE_CHARS)}…` : flat;
}
