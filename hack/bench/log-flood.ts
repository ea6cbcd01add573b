import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTokenFile } from '../../src/api/token-file.js';
import { realClock, sleep } from '../../src/util/index.js';

/**
 * Log flood benchmark (issue #15): the real `procmgr run` (`node bin/procmgr.mjs`) supervising
 * a process that writes as fast as it can, its stdout read by this script.
 *
 * flood: `yes` next to a bystander for FLOOD_SECONDS with the daemon's heap capped at HEAP_MIB;
 *   the bystander is SIGKILLed a third of the way in and must be restarted. Reports the daemon's
 *   peak RSS, whether it survived, the bystander's restart and GET /v1/processes latency.
 * burst: 50 MB of 100-byte lines after a 3 s pause; the daemon's RSS before, at peak and 10 s
 *   after the burst, and GET /v1/processes latency during it.
 *
 * `tsx hack/bench/log-flood.ts [flood|burst] [--slow-reader] [--no-forward]`. A slow reader
 * takes the daemon's stdout at READER_MIB_S (a terminal or a busy log shipper); the default
 * reader only counts bytes.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = process.execPath;
const FLOOD_SECONDS = Number(process.env.BENCH_FLOOD_SECONDS ?? 20);
const HEAP_MIB = Number(process.env.BENCH_HEAP_MIB ?? 256);
const READER_MIB_S = Number(process.env.BENCH_READER_MIB_S ?? 2);
const BURST_BYTES = 50e6;
const MIB = 2 ** 20;

const args = process.argv.slice(2);
const slowReader = args.includes('--slow-reader');
const forward = !args.includes('--no-forward');
const which = args.find((a) => !a.startsWith('--')) ?? 'all';

class Daemon {
  readonly child: ChildProcess;
  readonly exited: Promise<string>;
  address = '';
  token: string | undefined;
  stdoutBytes = 0;
  warnings: string[] = [];
  private head = '';

  constructor(config: string, nodeFlags: readonly string[]) {
    const extra = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    this.child = spawn(NODE, [...nodeFlags, ...extra, path.join(ROOT, 'bin/procmgr.mjs'), 'run', '-c', config, '--listen', '127.0.0.1:0'], {
      env: { ...process.env, PATH: `${path.dirname(NODE)}${path.delimiter}${process.env.PATH ?? ''}` },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(String(code ?? signal))));
    const out = this.child.stdout!;
    out.on('data', (b: Buffer) => {
      this.stdoutBytes += b.length;
      if (!this.address) this.findAddress(b.toString());
      if (process.env.BENCH_TRACE_GC) for (const m of b.toString().matchAll(/\[\d+:0x[0-9a-f]+\][^\n]*/g)) process.stderr.write(`${m[0]}\n`);
      // Warnings only (cheap: no JSON parse of every forwarded line).
      for (let i = b.indexOf('"level":40'); i >= 0; i = b.indexOf('"level":40', i + 1)) {
        if (this.warnings.length < 50) this.warnings.push(b.subarray(i, b.indexOf(10, i)).toString());
      }
      if (slowReader) {
        out.pause();
        realClock.setTimer(() => out.resume(), (b.length / (READER_MIB_S * MIB)) * 1000);
      }
    });
  }

  private findAddress(text: string): void {
    this.head += text;
    const m = /"api":"([^"]+)".*"msg":"procmgr running"/.exec(this.head);
    if (m?.[1]) this.address = m[1];
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async ready(): Promise<void> {
    for (let i = 0; i < 600 && !this.address; i++) await sleep(realClock, 50);
    if (!this.address) throw new Error('the daemon did not start');
    this.token = (await findTokenFile(Number(this.address.slice(this.address.lastIndexOf(':') + 1))))?.token;
  }

  async get<T>(urlPath: string): Promise<T> {
    const res = await fetch(`http://${this.address}${urlPath}`, { headers: { Authorization: `Bearer ${this.token ?? ''}` }, signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`GET ${urlPath}: ${res.status}`);
    return urlPath.includes('/logs') ? ((await res.text()) as T) : ((await res.json()) as T);
  }

  async processes(): Promise<Record<string, { state: string; pid?: number; restarts: number; logs?: unknown }>> {
    const { processes } = await this.get<{ processes: { id: string; state: string; pid?: number; restarts: number; logs?: unknown }[] }>('/v1/processes');
    return Object.fromEntries(processes.map((p) => [p.id, p]));
  }

  async stop(): Promise<string> {
    if (this.alive) this.child.kill('SIGTERM');
    const timer = realClock.setTimer(() => this.child.kill('SIGKILL'), 30_000);
    try {
      return await this.exited;
    } finally {
      timer.cancel();
    }
  }
}

function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function pct(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

/** GET /v1/processes back to back until `stop()` says so; latencies in ms. */
function latencyLoop(d: Daemon): { stop: () => Promise<number[]> } {
  const samples: number[] = [];
  let on = true;
  const loop = (async () => {
    while (on && d.alive) {
      const t0 = performance.now();
      try {
        await d.get('/v1/processes');
        samples.push(performance.now() - t0);
      } catch {
        samples.push(performance.now() - t0);
        await sleep(realClock, 50);
      }
      await sleep(realClock, 20);
    }
  })();
  return { stop: async () => ((on = false), await loop, samples) };
}

function writeConfig(dir: string, processes: string): string {
  const file = path.join(dir, 'procmgr.yaml');
  writeFileSync(file, `processManager:\n  logLevel: info\nprocesses:\n${processes}`);
  return file;
}

const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : String(n));

async function flood(dir: string): Promise<void> {
  const logging = `\n    logging: { forward: ${forward}${process.env.BENCH_BUFFER_LINES ? `, bufferLines: ${process.env.BENCH_BUFFER_LINES}` : ''} }`;
  const config = writeConfig(
    dir,
    `  - id: flood\n    command: yes${logging}\n  - id: bystander\n    command: ${NODE}\n    args: ["-e", "setInterval(() => {}, 1e9)"]\n    restart: { delay: 100ms }\n`,
  );
  const d = new Daemon(config, [`--max-old-space-size=${HEAP_MIB}`]);
  try {
    await d.ready();
    for (let i = 0; i < 200; i++) {
      const ps = await d.processes();
      if (ps.flood?.state === 'Running' && ps.bystander?.state === 'Running') break;
      await sleep(realClock, 50);
    }
    const before = rssMiB(d.pid);
    const lat = latencyLoop(d);
    let peak = before;
    let restartedAfterMs: number | undefined;
    let killedAt: number | undefined;
    let oldPid: number | undefined;
    const t0 = performance.now();
    while (performance.now() - t0 < FLOOD_SECONDS * 1000 && d.alive) {
      peak = Math.max(peak, rssMiB(d.pid) || 0);
      const elapsed = performance.now() - t0;
      if (killedAt === undefined && elapsed > (FLOOD_SECONDS * 1000) / 3) {
        oldPid = (await d.processes()).bystander?.pid;
        if (oldPid) process.kill(oldPid, 'SIGKILL');
        killedAt = performance.now();
      } else if (killedAt !== undefined && restartedAfterMs === undefined && d.alive) {
        const b = (await d.processes().catch(() => undefined))?.bystander;
        if (b?.state === 'Running' && b.pid !== oldPid) restartedAfterMs = performance.now() - killedAt;
      }
      await sleep(realClock, 250);
    }
    const alive = d.alive;
    const samples = await lat.stop();
    const status = alive ? (await d.processes()).flood : undefined;
    console.log(`flood (${FLOOD_SECONDS}s of \`yes\`, heap cap ${HEAP_MIB} MiB, ${slowReader ? `reader ${READER_MIB_S} MiB/s` : 'fast reader'}, forward ${forward}):`);
    console.log(`  daemon alive at the end: ${alive}   RSS before ${fmt(before)} MiB, peak ${fmt(peak)} MiB, end ${fmt(rssMiB(d.pid))} MiB`);
    console.log(`  bystander restarted after SIGKILL: ${restartedAfterMs === undefined ? 'NO' : `${fmt(restartedAfterMs, 0)} ms`}`);
    console.log(`  GET /v1/processes: n=${samples.length} p50 ${fmt(pct(samples, 50))} ms, p95 ${fmt(pct(samples, 95))} ms, max ${fmt(pct(samples, 100))} ms`);
    console.log(`  daemon stdout read: ${fmt(d.stdoutBytes / MIB)} MiB; flood status logs: ${JSON.stringify(status?.logs)}`);
    for (const w of d.warnings.slice(0, 3)) console.log(`  warn: ${w.slice(0, 300)}`);
  } finally {
    console.log(`  daemon exit: ${await d.stop()}`);
  }
}

async function burst(dir: string): Promise<void> {
  const line = 'x'.repeat(99);
  const script = `
    const line = ${JSON.stringify(line)} + '\\n';
    const block = line.repeat(1000);
    let left = ${BURST_BYTES};
    const go = () => { while (left > 0) { left -= block.length; if (!process.stdout.write(block)) return process.stdout.once('drain', go); } process.stdout.write('BURST DONE\\n'); };
    setTimeout(go, 3000); setInterval(() => {}, 1e9);`;
  const logging = `\n    logging: { forward: ${forward}${process.env.BENCH_BUFFER_LINES ? `, bufferLines: ${process.env.BENCH_BUFFER_LINES}` : ''} }`;
  const config = writeConfig(dir, `  - id: burst\n    command: ${NODE}\n    args: ${JSON.stringify(['-e', script])}${logging}\n`);
  const d = new Daemon(config, []);
  try {
    await d.ready();
    await sleep(realClock, 2_500);
    const before = rssMiB(d.pid);
    const lat = latencyLoop(d);
    let peak = before;
    const t0 = performance.now();
    let doneAt: number | undefined;
    while (doneAt === undefined && performance.now() - t0 < 120_000) {
      peak = Math.max(peak, rssMiB(d.pid) || 0);
      const tail = await d.get<string>('/v1/processes/burst/logs?tail=1');
      if (tail.includes('BURST DONE')) doneAt = performance.now();
      else await sleep(realClock, 100);
    }
    const samples = await lat.stop();
    for (let i = 0; i < 40; i++) {
      peak = Math.max(peak, rssMiB(d.pid) || 0);
      await sleep(realClock, 250);
    }
    const after = rssMiB(d.pid);
    const status = (await d.processes()).burst;
    console.log(`burst (${BURST_BYTES / 1e6} MB of 100-byte lines, ${slowReader ? `reader ${READER_MIB_S} MiB/s` : 'fast reader'}, forward ${forward}):`);
    console.log(`  captured in ${doneAt === undefined ? 'NOT DONE' : `${fmt((doneAt - t0) / 1000, 2)} s (from the burst's start, ~0.5 s early)`}`);
    console.log(`  RSS before ${fmt(before)} MiB, peak ${fmt(peak)} MiB, 10 s after ${fmt(after)} MiB (+${fmt(after - before)} MiB)`);
    console.log(`  GET /v1/processes during the burst: n=${samples.length} p50 ${fmt(pct(samples, 50))} ms, p95 ${fmt(pct(samples, 95))} ms, max ${fmt(pct(samples, 100))} ms`);
    console.log(`  daemon stdout read: ${fmt(d.stdoutBytes / MIB)} MiB; burst status logs: ${JSON.stringify(status?.logs)}`);
    for (const w of d.warnings.slice(0, 3)) console.log(`  warn: ${w.slice(0, 300)}`);
  } finally {
    console.log(`  daemon exit: ${await d.stop()}`);
  }
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'procmgr-flood-'));
try {
  if (which === 'flood' || which === 'all') await flood(dir);
  if (which === 'burst' || which === 'all') await burst(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
