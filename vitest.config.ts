import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 20_000,
    // build-once: dist/ for the tests that run bin/lineup.js; postgres-once: the PostgreSQL suites' cluster.
    globalSetup: ['test/build-once.ts', 'test/postgres-once.ts'],
  },
});
