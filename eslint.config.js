// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
);
