/** Output capture of supervised processes: line splitting, ring buffer, rotating file, per-process capture. */
export { LineSplitter, DEFAULT_MAX_LINE_BYTES } from './line-splitter.js';
export type { LineSink, LineSplitterOptions } from './line-splitter.js';
export { LineRing } from './ring-buffer.js';
export { RotatingFile, LogFileError } from './rotating-file.js';
export type { RotatingFileOptions } from './rotating-file.js';
export { LogCapture, CLOSE_WAIT_MS, FILE_BACKLOG_LIMIT_BYTES, FILE_BACKLOG_LIMIT_RECORDS } from './capture.js';
export type { LogCaptureOptions, LogLine, LogStats, StreamName } from './capture.js';
export {
  LogForwarder,
  destinationBehind,
  FORWARD_BACKLOG_LIMIT_BYTES,
  FORWARD_BURST_BYTES,
  FORWARD_LINE_COST_BYTES,
  FORWARD_RATE_BYTES_PER_S,
  DROP_REPORT_INTERVAL_MS,
} from './forward.js';
export type { ForwardDrops, LogForwarderOptions } from './forward.js';
export { SpoolReader, createSpool, removeSpool, SPOOL_TRUNCATE_BYTES, SPOOL_BEHIND_LIMIT_BYTES, SPOOL_POLL_MS, POSITION_WRITE_MS } from './spool.js';
export type { SpoolReaderOptions } from './spool.js';
