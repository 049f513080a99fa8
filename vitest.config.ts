import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Deadlines bound "never", not "slow": two files at once on a shared 2-core machine can
    // take several times their quiet duration, and a passing run never waits for them.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Files run two at a time, one per core of the CI machine: every file starts its own
    // redis-server and sshd on its own ports, with its own key prefixes and temp dirs, so no
    // file depends on another or on their order. Within a file, tests run in order, and each
    // sets up what it checks (none relies on an earlier test having run).
    fileParallelism: true,
    maxWorkers: 2,
  },
});
