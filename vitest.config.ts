import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'daemon/test/**/*.test.ts', 'scheduler/test/**/*.test.ts', 'bench/test/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: e2e files start real registries, containerd and daemons; run two files at a time.
    maxWorkers: 2,
  },
});
