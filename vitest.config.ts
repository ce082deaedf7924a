import { defineConfig } from 'vitest/config';

// Tests import the TypeScript sources; worker threads run the compiled JavaScript in
// dist/ (Node 20 cannot load .ts in a Worker), so `npm test` builds first.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One retry: tests with real threads, sockets and guests on a shared 2-core machine can
    // lose a race with the scheduler; a real defect fails both tries.
    retry: 1,
    fileParallelism: false,
  },
});
