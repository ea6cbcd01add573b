import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { meets, type Row, type Target } from './lib.js';

/**
 * Benchmark entry point: `npm run bench -- [suite|all] [suite arguments]`.
 * Prints one aligned table per suite to stdout and writes hack/bench/results/<suite>.json.
 */

/** A suite gets the arguments after its name (`npm run bench -- peers --quick`). */
type Suite = (args: readonly string[]) => Promise<readonly Row[]>;

// Adding a suite is one line; modules load lazily, so one suite's imports never slow another.
const SUITES: Readonly<Record<string, Suite>> = {
  engine: async () => (await import('./engine.js')).run(),
  supervisor: async () => (await import('./supervisor.js')).run(),
  daemon: async () => (await import('./daemon.js')).run(),
  k8s: async () => (await import('./k8s.js')).run(),
  scale: async () => (await import('./scale.js')).run(),
  peers: async (args) => (await import('./peers.js')).run(args),
};

const self = fileURLToPath(import.meta.url);

/** Heap measurements need gc(): re-run this file under `--expose-gc` and pass its exit code on. */
function reexecWithGc(): never {
  const args = ['--expose-gc', '--import', import.meta.resolve('tsx'), self, ...process.argv.slice(2)];
  const child = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (child.error) console.error(child.error);
  process.exit(child.status ?? 1);
}

function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemBytes: os.totalmem(),
    date: new Date().toISOString(),
  };
}

function formatValue(v: number): string {
  const digits = Number.isInteger(v) || Math.abs(v) >= 10_000 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function formatTarget(t: Target | undefined): string {
  return t ? `${t.op === '<=' ? '≤' : '≥'} ${formatValue(t.value)}` : '';
}

function table(rows: readonly Row[]): string {
  const header = ['metric', 'N', 'value', 'unit', 'target', 'pass'];
  const body = rows.map((r) => [
    r.metric,
    r.n.toLocaleString('en-US'),
    formatValue(r.value),
    r.unit,
    formatTarget(r.target),
    r.target ? (meets(r.value, r.target) ? 'PASS' : 'FAIL') : '',
  ]);
  const all = [header, ...body];
  const widths = header.map((_, c) => Math.max(...all.map((line) => [...(line[c] ?? '')].length)));
  const rightAligned = new Set([1, 2]);
  const render = (line: readonly string[]): string =>
    line
      .map((cell, c) => {
        const pad = ' '.repeat((widths[c] ?? 0) - [...cell].length);
        return rightAligned.has(c) ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  return [render(header), rule, ...body.map(render)].join('\n');
}

function save(suite: string, rows: readonly Row[], info: Record<string, string | number>): string {
  const dir = path.join(path.dirname(self), 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${suite}.json`);
  const out = {
    suite,
    machine: info,
    rows: rows.map((r) => ({
      metric: r.metric,
      N: r.n,
      value: r.value,
      unit: r.unit,
      target: r.target ?? null,
      pass: meets(r.value, r.target),
    })),
  };
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  return file;
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  const known = Object.keys(SUITES);
  const names = arg === undefined || arg === 'all' ? known : [arg];
  const unknown = names.filter((n) => !(n in SUITES));
  if (unknown.length > 0) {
    console.error(`unknown benchmark suite "${unknown.join(', ')}"; known suites: ${known.join(', ')} (or all)`);
    process.exit(1);
  }
  for (const name of names) {
    const suite = SUITES[name];
    if (!suite) continue;
    const info = machine();
    console.error(`bench ${name}: node ${info.node}, ${info.cpus} × ${info.cpuModel}`);
    const started = performance.now();
    const rows = await suite(process.argv.slice(3));
    const file = save(name, rows, info);
    console.log(`\n${name} (node ${info.node}, ${info.cpus} CPUs, ${info.cpuModel})\n${table(rows)}`);
    console.error(`  ${name} took ${((performance.now() - started) / 1000).toFixed(1)} s; wrote ${path.relative(process.cwd(), file)}`);
  }
}

if (globalThis.gc === undefined) reexecWithGc();
else await main();
