import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // 2-core machines: a couple of workers is enough, each test file starts its own broker on port 0.
    pool: 'forks',
    maxWorkers: 2,
  },
})
