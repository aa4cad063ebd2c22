import { defineConfig } from 'vitest/config';

// Each test file gets its own process (Dawn's instance is per process); lavapipe already uses
// every core for one dispatch, so files run one after another.
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
