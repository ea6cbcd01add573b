import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { realClock, sleep } from '../../src/util/index.js';
import { median, progress, type Row } from './lib.js';

/**
 * Scale suite (issue #15): the real `procmgr run` (`node bin/procmgr.mjs`), started
 * on an empty set; then, for each N, `PUT /v1/processes` with N `sleep 1000` processes, timed to
 * the daemon's N-th `started` line and checked with one GET that all are Running; then a PUT of
 * an empty set, timed until GET lists none, and the daemon's RSS SETTLE_MS after that. A fresh
 * daemon per run, RUNS runs per N (median). `BENCH_SCALE_N=500,1000` picks the sizes,
 * `BENCH_NODE_FLAGS` adds daemon flags (`--cpu-prof --cpu-prof-dir=/tmp/prof`). Standalone:
 * `tsx hack/bench/scale.ts`, or `npm run bench -- scale`.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = process.execPath;
const SIZES = (process.env.BENCH_SCALE_N ?? '500,1000,2000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 3);
const SETTLE_MS = 10_000;
const LIMIT_MS = 180_000;
const TOKEN = randomUUID();

class Daemon {
  readonly child: ChildProcess;
  readonly exited: Promise<string>;
  address = '';
  started = 0;
  readonly stderr: string[] = [];

  constructor(config: string) {
    const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    this.child = spawn(NODE, [...extra, path.join(ROOT, 'bin/procmgr.mjs'), 'run', '-c', config, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(String(code ?? signal))));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      // Substring tests, not JSON.parse: thousands of lines arrive while the clock runs.
      if (line.includes('"msg":"started"')) this.started++;
      else if (!this.address && line.includes('"msg":"procmgr running"')) this.address = /"api":"([^"]+)"/.exec(line)?.[1] ?? '';
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async until(done: () => boolean, what: string): Promise<void> {
    for (const end = performance.now() + LIMIT_MS; !done(); await sleep(realClock, 10)) {
      if (!this.alive) throw new Error(`the daemon exited while waiting for ${what}: ${this.stderr.slice(-5).join('\n')}`);
      if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    }
  }

  async request<T>(method: 'GET' | 'PUT', body?: unknown): Promise<T> {
    const res = await fetch(`http://${this.address}/v1/processes`, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    }).catch((err: unknown) => {
      throw new Error(`${method} /v1/processes failed`, { cause: err });
    });
    if (!res.ok) throw new Error(`${method} /v1/processes: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async list(): Promise<{ id: string; state: string }[]> {
    return (await this.request<{ processes: { id: string; state: string }[] }>('GET')).processes;
  }

  /** `nodejs_heap_size_used_bytes` from /metrics (an open route), in MiB. */
  async heapUsedMiB(): Promise<number> {
    const text = await (await fetch(`http://${this.address}/metrics`, { signal: AbortSignal.timeout(60_000) })).text();
    const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
    return m ? Number(m[1]) / 2 ** 20 : Number.NaN;
  }

  async stop(): Promise<string> {
    if (this.alive) this.child.kill('SIGTERM');
    const timer = realClock.setTimer(() => this.child.kill('SIGKILL'), 60_000);
    try {
      return await this.exited;
    } finally {
      timer.cancel();
    }
  }
}

function rssMiB(pid: number, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

interface ScaleRun {
  readonly startMs: number;
  readonly stopMs: number;
  readonly emptyRssMiB: number;
  readonly runningRssMiB: number;
  readonly afterRssMiB: number;
  readonly afterAnonMiB: number;
  readonly afterHeapMiB: number;
}

async function scaleRun(dir: string, n: number): Promise<ScaleRun> {
  const file = path.join(dir, 'scale.json');
  writeFileSync(file, `${JSON.stringify({ processManager: { logLevel: 'info', api: { token: TOKEN } }, processes: [] })}\n`);
  const d = new Daemon(file);
  let result: ScaleRun;
  try {
    await d.until(() => d.address !== '', 'procmgr running');
    await sleep(realClock, 1_000);
    const emptyRssMiB = rssMiB(d.pid);
    const processes = Array.from({ length: n }, (_, i) => ({ id: `sleep-${String(i).padStart(5, '0')}`, command: 'sleep', args: ['1000'] }));
    const t0 = performance.now();
    await d.request('PUT', { processes });
    await d.until(() => d.started >= n, `${n} started lines`);
    const startMs = performance.now() - t0;
    const notRunning = (await d.list()).filter((p) => p.state !== 'Running');
    if (notRunning.length > 0) throw new Error(`${notRunning.length} of ${n} not Running after their started line`);
    const runningRssMiB = rssMiB(d.pid);
    const t1 = performance.now();
    await d.request('PUT', { processes: [] });
    while ((await d.list()).length > 0) await sleep(realClock, 100);
    const stopMs = performance.now() - t1;
    await sleep(realClock, SETTLE_MS);
    const afterHeapMiB = await d.heapUsedMiB();
    result = { startMs, stopMs, emptyRssMiB, runningRssMiB, afterRssMiB: rssMiB(d.pid), afterAnonMiB: rssMiB(d.pid, 'RssAnon'), afterHeapMiB };
  } finally {
    await d.stop();
  }
  const exit = await d.exited;
  if (exit !== '0') throw new Error(`the daemon exited with ${exit}: ${d.stderr.slice(-5).join('\n')}`);
  return result;
}

export async function run(): Promise<Row[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'procmgr-bench-scale-'));
  const rows: Row[] = [];
  try {
    for (const n of SIZES) {
      const runs: ScaleRun[] = [];
      for (let i = 0; i < RUNS; i++) {
        progress(`scale: ${n} × sleep 1000 (${i + 1}/${RUNS})`);
        const r = await scaleRun(dir, n);
        progress(`  start ${r.startMs.toFixed(0)} ms, stop ${r.stopMs.toFixed(0)} ms, RSS empty ${r.emptyRssMiB.toFixed(1)} → running ${r.runningRssMiB.toFixed(1)} → after ${r.afterRssMiB.toFixed(1)} MiB (anon ${r.afterAnonMiB.toFixed(1)}, heap used ${r.afterHeapMiB.toFixed(1)})`);
        runs.push(r);
      }
      const m = (pick: (r: ScaleRun) => number): number => median(runs.map(pick));
      rows.push(
        { metric: 'PUT → all Running (sleep 1000)', n, value: m((r) => r.startMs), unit: 'ms' },
        { metric: 'PUT of an empty set → none listed', n, value: m((r) => r.stopMs), unit: 'ms' },
        { metric: 'RSS, empty set before', n, value: m((r) => r.emptyRssMiB), unit: 'MiB' },
        { metric: 'RSS, all Running', n, value: m((r) => r.runningRssMiB), unit: 'MiB' },
        { metric: `RSS ${SETTLE_MS / 1000} s after all stopped`, n, value: m((r) => r.afterRssMiB), unit: 'MiB' },
        { metric: '… of it anonymous (RssAnon)', n, value: m((r) => r.afterAnonMiB), unit: 'MiB' },
        { metric: '… V8 heap used (/metrics)', n, value: m((r) => r.afterHeapMiB), unit: 'MiB' },
      );
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await run()) console.log(`${r.metric.padEnd(40)} ${String(r.n).padStart(5)}  ${r.value.toFixed(1)} ${r.unit}`);
}
