import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The Node flags the daemon is launched with are written in three places that cannot share a
// file: bin/procmgr.mjs's first line, package.json's start script and the image's ENTRYPOINT.
// These read each of them back, for the test that keeps them equal and for the daemon benchmark,
// which runs the daemon as the image does.

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const read = (file: string): string => readFileSync(ROOT + file, 'utf8');

/** The flags between `node` and the script, or an error naming where they were looked for. */
function between(argv: readonly string[], where: string): string[] {
  const node = argv.indexOf('node');
  const script = argv.findIndex((a) => a.endsWith('procmgr.mjs'));
  if (node < 0 || script < node) throw new Error(`${where}: no "node … procmgr.mjs" in ${JSON.stringify(argv)}`);
  return argv.slice(node + 1, script);
}

/** From `#!/usr/bin/env -S node … ` in bin/procmgr.mjs (the flags of `procmgr` on PATH). */
export function shebangFlags(): string[] {
  const line = read('bin/procmgr.mjs').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S (.*)$/.exec(line);
  if (!m?.[1]) throw new Error(`bin/procmgr.mjs: the first line is not "#!/usr/bin/env -S node …": ${line}`);
  return between([...m[1].split(' '), 'procmgr.mjs'], 'bin/procmgr.mjs');
}

/** From package.json's start script (`npm start`). */
export function startScriptFlags(): string[] {
  const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  const start = scripts['start'] ?? '';
  const command = start.split('&&').map((c) => c.trim()).find((c) => c.includes('bin/procmgr.mjs')) ?? '';
  return between(command.split(/\s+/), 'package.json scripts.start');
}

/** From deploy/Dockerfile's exec-form ENTRYPOINT (the container image). */
export function imageNodeFlags(): string[] {
  const m = /^ENTRYPOINT (\[.*\])$/m.exec(read('deploy/Dockerfile'));
  if (!m?.[1]) throw new Error('deploy/Dockerfile: no exec-form ENTRYPOINT');
  return between(JSON.parse(m[1]) as string[], 'deploy/Dockerfile ENTRYPOINT');
}
