import { defineConfig } from 'vitest/config';

// Tests import the TypeScript sources; worker threads run the compiled JavaScript in
// dist/ (Node 20 cannot load .ts in a Worker), so `npm test` builds first.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // No retry: a race that fails half the time must show. A test that still needs one says
    // so itself ({ retry: n } on the test, with the reason).
    fileParallelism: false,
  },
});
