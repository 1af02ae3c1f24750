import { defineConfig } from 'vitest/config';

// Tests run in forked processes because isolated-vm (loaded by the sandbox workers the tests spawn,
// and by a few direct sandbox tests) needs --no-node-snapshot on Node 20.
export default defineConfig({
  test: {
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    fileParallelism: true,
    // CI reads its one summary line from this report (.ci/run).
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: '.ci/results.json' } : undefined,
  },
});
