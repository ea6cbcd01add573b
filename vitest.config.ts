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
    ],
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});
