import type { ServerResponse } from 'node:http';
import type { LogLine } from '../supervisor/index.js';
import type { Logger } from '../util/index.js';
import type { ApiBackend } from './backend.js';
import type { LogsQuery } from './routes.js';

/**
 * A follower whose client reads slower than the process writes is ended once this much is
 * buffered for it, so one stalled `logs -f` cannot grow the daemon's memory without bound; the
 * client may reconnect with `tail` to catch up.
 */
export const FOLLOW_BUFFER_LIMIT_BYTES = 4 * 1024 * 1024;

/** The open follow streams of one server; `stop()` ends them all. */
export type Followers = Set<() => void>;

/**
 * Answers `GET /v1/processes/:id/logs` for a known id: the buffered lines as NDJSON, then, with
 * `follow`, every new line until the client disconnects or the server ends the stream.
 */
export function serveLogs(opts: {
  readonly res: ServerResponse;
  readonly backend: ApiBackend;
  readonly id: string;
  readonly query: LogsQuery;
  readonly followers: Followers;
  readonly logger: Logger;
}): void {
  const { res, backend, id, query, followers, logger } = opts;
  const lines = backend.logs(id, query.tail === undefined ? {} : { tail: query.tail });
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  if (!query.follow) {
    res.end(lines.map(ndjson).join(''));
    return;
  }
  for (const line of lines) res.write(ndjson(line));
  // Without buffered lines nothing would be written yet; the client should see the 200 now.
  res.flushHeaders();
  let subscribed = false;
  const end = (): void => {
    if (!followers.delete(end)) return;
    if (subscribed) unsubscribe();
    if (!res.writableEnded) {
      // Close the connection after the last chunk: a stopping server should not wait for it to idle.
      res.shouldKeepAlive = false;
      res.end();
    }
  };
  followers.add(end);
  // Lines cannot slip in between `logs` above and this subscription: both run in this same tick.
  const unsubscribe = backend.followLogs(
    id,
    (line) => {
      if (!followers.has(end)) return;
      if (res.writableLength > FOLLOW_BUFFER_LIMIT_BYTES) {
        logger.warn({ process: id, bufferedBytes: res.writableLength }, 'log follower reads too slowly; ending its stream');
        end();
        return;
      }
      res.write(ndjson(line));
    },
    // The process finished or was removed: no more lines, so the stream (and `logs -f`) ends.
    () => queueMicrotask(end),
  );
  subscribed = true;
  // Ended while subscribing (a backend that replays synchronously into a full buffer).
  if (!followers.has(end)) unsubscribe();
  res.once('close', end);
  // The client may have gone before we got here; then 'close' has fired already.
  if (res.destroyed || res.socket === null || res.socket.destroyed) end();
}

function ndjson(line: LogLine): string {
  return `${JSON.stringify(line)}\n`;
}
