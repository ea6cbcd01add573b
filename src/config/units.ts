import { z } from 'zod';

/**
 * Durations and sizes as people write them in YAML. Parsed once here (DESIGN §5); everything
 * past the boundary sees plain milliseconds and bytes.
 */

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Parses `"500ms" | "5s" | "1m30s" | "2h"` to milliseconds; `undefined` when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) ms += Number(amount) * (DURATION_UNITS[unit ?? ''] ?? 0);
  return Math.round(ms);
}

/**
 * The longest duration any setting takes: a week. Longer grace periods, timeouts or intervals are
 * typos (`600h` for `600s`), and every timer is then far from overflowing anything.
 */
export const MAX_DURATION_MS = 7 * 24 * 3_600_000;

/** A duration: a string like `"5s"`, or a number of milliseconds, at most a week. Parses to milliseconds. */
export const durationMs = z
  .union([z.number().int().nonnegative(), z.string()])
  .transform((value, ctx) => {
    const ms = typeof value === 'number' ? value : parseDuration(value.trim());
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration like "500ms", "5s", "1m" or "1h", got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    if (ms > MAX_DURATION_MS) {
      ctx.addIssue({ code: 'custom', message: `expected a duration of at most 168h (a week), got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ title: 'duration', description: 'Duration: "500ms", "5s", "1m30s", "2h", or a number of milliseconds; at most a week.' });

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9,
  ki: 2 ** 10, kib: 2 ** 10, mi: 2 ** 20, mib: 2 ** 20, gi: 2 ** 30, gib: 2 ** 30,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/** Parses `"512Mi" | "10MB" | "4096"` to bytes; `undefined` when malformed. */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  const factor = m ? SIZE_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  return m && factor !== undefined ? Math.round(Number(m[1]) * factor) : undefined;
}

/** A size in bytes: `"256Mi"`, `"10MB"`, or a number of bytes. */
export const sizeBytes = z
  .union([z.number().int().nonnegative(), z.string()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return value;
    const bytes = parseSize(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a size like "512Mi", "10MB" or a number of bytes, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return bytes;
  })
  .meta({ title: 'size', description: 'Size: "512Mi", "1Gi", "10MB", or a number of bytes.' });
