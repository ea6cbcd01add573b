import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/*
 * What a user of the package type-checks against is dist/index.d.ts, not src/: the examples are
 * compiled against declarations emitted from src/index.ts, so a type they use that the explicit
 * export list forgot (or that only resolves inside the repository) fails here. Integration tier:
 * it runs the compiler twice and writes a temp dir.
 */

const root = fileURLToPath(new URL('../../..', import.meta.url));
const EXAMPLES = ['library.ts', 'supervisor.ts', 'controller-loop.ts'];

describe('package declarations', () => {
  it('the examples compile against the emitted type declarations, as a user of the package sees them', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'procmgr-public-api-'));
    try {
      // Resolving from the temp dir needs the project's dependencies (zod, pino types in the declarations).
      await symlink(join(root, 'node_modules'), join(dir, 'node_modules'));
      const base: ts.CompilerOptions = {
        target: ts.ScriptTarget.ES2023,
        lib: ['lib.es2023.d.ts'],
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        types: ['node'],
        strict: true,
        exactOptionalPropertyTypes: true,
        skipLibCheck: true,
      };
      const emit = ts.createProgram([join(root, 'src/index.ts')], { ...base, declaration: true, emitDeclarationOnly: true, rootDir: join(root, 'src'), outDir: join(dir, 'dist') });
      const emitted = emit.emit();
      expect(ts.getPreEmitDiagnostics(emit).concat(emitted.diagnostics).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
      for (const name of EXAMPLES) {
        const text = await readFile(join(root, 'examples', name), 'utf8');
        await writeFile(join(dir, name), text.replaceAll("'../src/index.js'", "'./dist/index.js'"));
      }
      await writeFile(join(dir, 'package.json'), '{ "type": "module" }');
      const use = ts.createProgram(EXAMPLES.map((n) => join(dir, n)), { ...base, noEmit: true, rootDir: dir });
      const problems = ts.getPreEmitDiagnostics(use).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
      expect(problems).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
