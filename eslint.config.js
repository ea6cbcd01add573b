// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * Layering (DESIGN §2, CONVENTIONS 10): util ← core ← supervisor/config ← api/k8s ← daemon ← cli.
 * Each folder lists the folders it must not import; supervisor may import config, not the reverse;
 * api and k8s do not import each other. Type-only imports count too: a type is a dependency.
 */
/** @type {Record<string, readonly string[]>} */
const LAYERS = {
  util: ['core', 'supervisor', 'config', 'api', 'k8s', 'daemon', 'cli'],
  core: ['supervisor', 'config', 'api', 'k8s', 'daemon', 'cli'],
  config: ['supervisor', 'api', 'k8s', 'daemon', 'cli'],
  supervisor: ['api', 'k8s', 'daemon', 'cli'],
  api: ['k8s', 'daemon', 'cli'],
  k8s: ['api', 'daemon', 'cli'],
  daemon: ['cli'],
  cli: [],
};
const FOLDERS = Object.keys(LAYERS);

/**
 * `no-restricted-imports` options for the files of `folder` (flat config replaces, never merges, a rule's options: one block per folder).
 * @param {string} folder
 */
function importRules(folder) {
  const upward = LAYERS[folder] ?? [];
  const patterns = [
    {
      // Cross-folder imports go through the folder's index.ts. util/builtins is left out of util's
      // index on purpose: loading it loads node:http, which the engine alone does not need.
      regex: `^(\\.\\./)+(?!util/builtins\\.js$)(${FOLDERS.join('|')})/(?!index\\.js$)`,
      message: 'layering: import another folder through its index.ts (src/<folder>/index.js), not its files.',
    },
  ];
  if (upward.length > 0) {
    patterns.push({
      regex: `^(\\.\\./)+(${upward.join('|')})/`,
      message: `layering: ${folder}/ may not import ${upward.join(', ')} (util ← core ← supervisor/config ← api/k8s ← daemon ← cli).`,
    });
  }
  const timers = 'time is injected: take a Clock (src/util/clock.ts) instead of the timers module.';
  const paths = folder === 'util' ? [] : ['timers', 'node:timers', 'timers/promises', 'node:timers/promises'].map((name) => ({ name, message: timers }));
  return { 'no-restricted-imports': ['error', { paths, patterns }] };
}

const CLOCK = 'time is injected: use the Clock (clock.now(), clock.setTimer(), sleep(clock, ...)) from src/util, so tests can pass a FakeClock.';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'hack/bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'hack/*.mjs', 'bin/*.mjs', 'test/fixtures/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
      // Pass-through of caught values (typed unknown) is fine; literal non-Errors are still flagged.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // The CLI, benchmarks, examples and scripts talk to a terminal.
    files: ['src/cli/**', 'hack/**', 'examples/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Examples show async hooks the way users write them, awaiting or not.
    files: ['examples/**'],
    rules: { '@typescript-eslint/require-await': 'off' },
  },
  {
    // The example apps are plain CommonJS run by node: linted without type information.
    files: ['examples/apps/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['examples/apps/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['test/**'],
    rules: {
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  ...FOLDERS.map((folder) => ({ files: [`src/${folder}/**/*.ts`], rules: importRules(folder) })),
  {
    // The Clock in src/util is the one place that reads the wall clock and arms Node timers.
    files: ['src/**/*.ts'],
    ignores: ['src/util/**'],
    rules: {
      'no-restricted-globals': ['error', { name: 'setTimeout', message: CLOCK }, { name: 'setInterval', message: CLOCK }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: CLOCK },
        { object: 'globalThis', property: 'setTimeout', message: CLOCK },
        { object: 'globalThis', property: 'setInterval', message: CLOCK },
      ],
    },
  },
);
