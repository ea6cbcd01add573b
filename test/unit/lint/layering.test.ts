import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

/*
 * The layering and Clock rules of eslint.config.js, run through ESLint's API on snippets, so a
 * config edit that stops them from firing fails here instead of passing `npm run lint` quietly.
 * Type information is switched off: the snippets are not files of the TypeScript project, and
 * the rules under test do not need it.
 */

const root = fileURLToPath(new URL('../../..', import.meta.url));
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: root, overrideConfig: [tseslint.configs.disableTypeChecked] });
});

async function problems(filePath: string, code: string): Promise<{ ruleId: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId?.startsWith('no-restricted-') ?? true).map((m) => ({ ruleId: m.ruleId, message: m.message }));
}

describe('layering rule', () => {
  it.each([
    ['src/core/x.ts', "export { Supervisor } from '../supervisor/index.js';", 'core/ may not import'],
    ['src/util/x.ts', "import { ProcessManager } from '../core/index.js';\nexport const m = ProcessManager;", 'util/ may not import'],
    ['src/config/x.ts', "import type { RuntimeStatus } from '../supervisor/index.js';\nexport type S = RuntimeStatus;", 'config/ may not import'],
    ['src/k8s/x.ts', "import { createApiServer } from '../api/index.js';\nexport const c = createApiServer;", 'k8s/ may not import'],
    ['src/api/x.ts', "import { ProcessSetSource } from '../k8s/index.js';\nexport const s = ProcessSetSource;", 'api/ may not import'],
    ['src/k8s/x.ts', "import type { Daemon } from '../daemon/index.js';\nexport type D = Daemon;", 'k8s/ may not import'],
    ['src/supervisor/x.ts', "import { createApiClient } from '../api/index.js';\nexport const c = createApiClient;", 'supervisor/ may not import'],
    ['src/daemon/x.ts', "import { main } from '../cli/index.js';\nexport const m = main;", 'daemon/ may not import'],
    ['src/daemon/x.ts', "import { createApiServer } from '../api/server.js';\nexport const c = createApiServer;", 'through its index.ts'],
    ['src/supervisor/probes/x.ts', "import { realClock } from '../../util/clock.js';\nexport const c = realClock;", 'through its index.ts'],
  ])('%s: %s is refused', async (file, code, expected) => {
    const found = await problems(file, code);
    expect(found.map((p) => p.ruleId)).toContain('no-restricted-imports');
    expect(found.some((p) => p.message.includes('layering') && p.message.includes(expected))).toBe(true);
  });

  it.each([
    ['src/supervisor/x.ts', "import { parseProcessSpec } from '../config/index.js';\nexport const p = parseProcessSpec;"],
    ['src/config/x.ts', "import { PHASES } from '../core/index.js';\nexport const p = PHASES;"],
    ['src/daemon/x.ts', "import { createApiServer } from '../api/index.js';\nimport { ProcessSetSource } from '../k8s/index.js';\nexport const a = [createApiServer, ProcessSetSource];"],
    ['src/cli/x.ts', "import { Daemon } from '../daemon/index.js';\nimport { ApiError } from '../api/index.js';\nexport const a = [Daemon, ApiError];"],
    ['src/supervisor/probes/x.ts', "import { loadHttps } from '../../util/builtins.js';\nimport { isAbortError } from '../../util/index.js';\nexport const a = [loadHttps, isAbortError];"],
    ['src/supervisor/probes/x.ts', "import { LineRing } from '../logs/index.js';\nimport type { ProbeName } from './types.js';\nexport const a = LineRing;\nexport type N = ProbeName;"],
  ])('%s: allowed imports pass', async (file, code) => {
    expect(await problems(file, code)).toEqual([]);
  });
});

describe('Clock rule', () => {
  it.each([
    ['src/core/x.ts', 'export const t = Date.now();'],
    ['src/supervisor/x.ts', 'export const h = setTimeout(() => undefined, 10);'],
    ['src/api/x.ts', 'export const h = setInterval(() => undefined, 10);'],
    ['src/k8s/x.ts', 'export const h = globalThis.setTimeout(() => undefined, 10);'],
    ['src/daemon/x.ts', "import { setTimeout as delay } from 'node:timers/promises';\nexport const d = delay;"],
    ['src/cli/x.ts', "import { setInterval as every } from 'timers';\nexport const e = every;"],
  ])('%s: %s is refused, pointing at the Clock', async (file, code) => {
    const found = await problems(file, code);
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((p) => p.message.includes('Clock'))).toBe(true);
  });

  it('the Clock itself, in src/util, may use them', async () => {
    expect(await problems('src/util/x.ts', 'export const t = Date.now();\nexport const h = setTimeout(() => undefined, 10);')).toEqual([]);
  });

  it("a socket's own idle timeout is not the global", async () => {
    expect(await problems('src/api/x.ts', 'export const f = (req: { setTimeout(ms: number): void }): void => req.setTimeout(10);')).toEqual([]);
  });
});
