import { lstat, unlink } from 'node:fs/promises';
import { isIP, connect } from 'node:net';
import { parseListen as parseConfigListen, type ListenAddress } from '../config/index.js';
import { InvalidArgumentError } from '../util/index.js';
import { ListenError } from './errors.js';

export type { ListenAddress };

/**
 * Parses `"127.0.0.1:7070"`, `"[::1]:0"`, `"localhost:7070"`, `"0.0.0.0:7070"` or `"unix:/path.sock"`
 * (the config's rules); a bare absolute path is a unix socket too (that is what
 * `ApiServer.address` reports for one). Throws `InvalidArgumentError` for anything else.
 */
export function parseListen(text: string): ListenAddress {
  const parsed = parseConfigListen(text.startsWith('/') ? `unix:${text}` : text);
  if (typeof parsed === 'string') throw new InvalidArgumentError(`listen address "${text}": ${parsed}`, { value: text });
  return parsed;
}

/** Renders an address the way `parseListen` reads it (IPv6 in brackets, unix as its path). */
export function formatAddress(addr: ListenAddress): string {
  if (addr.kind === 'unix') return addr.path;
  return isIP(addr.host) === 6 ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/**
 * True when only this machine can reach the address: a unix socket, `localhost`, 127.0.0.0/8,
 * `::1` or an IPv4-mapped loopback. Everything else, wildcards included, is "beyond loopback".
 */
export function isLocalOnly(addr: ListenAddress): boolean {
  if (addr.kind === 'unix') return true;
  const host = addr.host.toLowerCase();
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice('::ffff:'.length) : host;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Makes `path` free for a new socket: a socket file that nobody accepts on (left by a crashed
 * daemon) is removed; a live socket or any other kind of file is a `ListenError`, never deleted.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = await lstat(path);
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return;
    throw new ListenError(path, `cannot inspect the socket path (${codeOf(err) ?? 'error'})`, err);
  }
  if (!stat.isSocket()) throw new ListenError(path, 'the path exists and is not a socket; not removing it');
  if (await accepts(path)) throw new ListenError(path, 'another server is listening on this socket (EADDRINUSE)');
  try {
    await unlink(path);
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw new ListenError(path, `cannot remove the stale socket (${codeOf(err) ?? 'error'})`, err);
  }
}

// A unix connect is answered at once (accepted, or ECONNREFUSED when no one listens), so no timer.
// Only a refusal proves the socket stale; anything else (EAGAIN on a full backlog) counts as live.
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err) => {
      socket.destroy();
      resolve(codeOf(err) !== 'ECONNREFUSED' && codeOf(err) !== 'ENOENT');
    });
  });
}

/** The `code` of a Node system error, if it has one. */
export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
