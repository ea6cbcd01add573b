import type { ProcessInfo } from '../api/index.js';

/** `1h02m`, `3m05s`, `42s`, `850ms`: short and sortable by eye. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1_000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

/**
 * The `procmgr status` table: id, state, pid, uptime, restarts, ready. RESTARTS is `restarts`
 * only, as kubectl's column is restartCount: a deploy leaves it alone (`--json` has both counters).
 */
export function statusTable(processes: readonly ProcessInfo[]): string {
  const rows = [['ID', 'STATE', 'PID', 'UPTIME', 'RESTARTS', 'READY']];
  for (const p of processes) {
    rows.push([p.id, p.state, p.pid === undefined ? '-' : String(p.pid), formatDuration(p.uptimeMs), String(p.restarts), p.ready ? 'yes' : 'no']);
  }
  return table(rows);
}
