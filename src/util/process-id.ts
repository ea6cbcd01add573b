/**
 * The process id rule, the one place it is written: printable, no whitespace, at most 253
 * characters (a DNS subdomain's length, so ids can become Kubernetes names and label values
 * downstream), and Unicode: a lone surrogate has no UTF-8 form, so such an id could not be named
 * in a URL, a file name or a log line. The config schema (and through it the CRD) uses the
 * pattern; code checks with `isProcessId`.
 */
export const PROCESS_ID_PATTERN = /^[^\s\p{Cc}\p{Cs}]{1,253}$/u;

/** What a bad id is told, after "expected ". */
export const PROCESS_ID_EXPECTED = 'a non-empty id of at most 253 printable characters without whitespace';

/** True when `id` is a usable process id. Any caller. */
export function isProcessId(id: unknown): id is string {
  return typeof id === 'string' && PROCESS_ID_PATTERN.test(id);
}
