import net from 'node:net';
import { describe } from '../../util/index.js';
import type { ProbeCheck, ProbeResult } from './types.js';

/** The `tcp` part of a parsed probe spec. */
export interface TcpProbeOptions {
  readonly host: string;
  readonly port: number;
}

/** A TCP connect check, built by `createCheck`: the connection opening passes. The socket is always destroyed. */
export function tcpCheck(opts: TcpProbeOptions): ProbeCheck {
  const where = `${opts.host}:${opts.port}`;
  return (signal) =>
    new Promise<ProbeResult>((resolve, reject) => {
      signal.throwIfAborted();
      const socket = net.connect({ host: opts.host, port: opts.port });
      const finish = (settle: () => void): void => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        settle();
      };
      const onAbort = (): void => finish(() => reject(signal.reason as unknown));
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => finish(() => resolve({ ok: true, message: `connected to ${where}` })));
      socket.once('error', (err) => finish(() => resolve({ ok: false, message: describe(err) })));
    });
}
