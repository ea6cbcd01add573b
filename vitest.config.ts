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
      {
        test: {
          name: 'k8s',
          include: ['test/k8s/**/*.test.ts'],
          environment: 'node',
          // A real kube-apiserver + etcd from hack/kube (built once, cached; a cold build takes ~15 min).
          globalSetup: ['test/k8s/global-setup.ts'],
          setupFiles: ['test/helpers/setup-leaks.ts'],
          // One API server for every file: run the files one at a time so they do not fight over it.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'container',
          include: ['test/container/**/*.test.ts'],
          environment: 'node',
          // A real dockerd and the procmgr:dev image, both set up by hack/docker (cached).
          globalSetup: ['test/container/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});
