import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // e2e files start real redis-server/sshd processes; two cores, so keep files serial-ish.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
