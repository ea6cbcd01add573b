import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each tier is a project so `vitest run --project unit` runs one; `npm test` runs them all.
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          // Real processes and servers: each file checks after itself that nothing it started survives.
          setupFiles: ['test/helpers/setup-leaks.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});
