import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The machine has 2 cores; multi-process tests (runtime, profiler) start their own processes.
    maxWorkers: 2,
  },
});
