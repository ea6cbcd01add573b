// Bundles the procmgr command into one ESM entry plus the chunks it loads lazily:
//
//   node hack/bundle-cli.mjs [distdir]     writes <distdir>/bundle; default distdir: dist
//
// Why: loading the CLI as many separate modules (procmgr's own and its dependencies') spends a
// large part of the daemon's start in module resolution, file reads and per-module bookkeeping,
// even with Node's compile cache. One file does not. `bin/procmgr.mjs` prefers the bundle when there
// are no sources to run (an installed package, the container image); the library entry point
// (dist/index.js) stays tsc's output.
//
// <distdir> is tsc's outDir (directly below the package root): the CLI finds its example config
// relative to its own file, two levels up, from dist/bundle as from dist/cli. Dependencies that
// are large and only loaded for some commands or probes (the Kubernetes client, gRPC) stay in
// node_modules; prom-client, loaded after the first spawn, becomes a chunk of its own.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(path.resolve(process.argv[2] ?? path.join(root, 'dist')), 'bundle');

// Chunk names carry content hashes: clear the last build's rather than pile them up.
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { procmgr: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  external: ['@kubernetes/client-node', '@grpc/grpc-js'],
  // The CommonJS dependencies (pino, yaml, commander, prom-client) call require() for Node's
  // built-in modules; an ESM bundle has no require of its own.
  banner: { js: "import { createRequire as __procmgrCreateRequire } from 'node:module'; const require = __procmgrCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  // V8 keeps every script's source in the heap, as two bytes per character if a single character
  // of it is not Latin-1, and esbuild keeps comments (ours and zod's have '→', 'é'). Without
  // comments and indentation, and with the remaining non-ASCII characters escaped, the chunks are
  // smaller one-byte source instead of two-byte: less RSS, same start time. Identifiers stay as
  // they are; stack traces map back with `node --enable-source-maps`.
  charset: 'ascii',
  minifyWhitespace: true,
  logLevel: 'warning',
});
