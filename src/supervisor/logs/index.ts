/** Output capture of supervised processes: line splitting, ring buffer, rotating file, per-process capture. */
export { LineSplitter, DEFAULT_MAX_LINE_BYTES } from './line-splitter.js';
export type { LineSplitterOptions } from './line-splitter.js';
export { RingBuffer } from './ring-buffer.js';
export { RotatingFile, LogFileError } from './rotating-file.js';
export type { RotatingFileOptions } from './rotating-file.js';
export { LogCapture } from './capture.js';
export type { LogCaptureOptions, LogLine, StreamName } from './capture.js';
