import { dirname } from 'node:path';
import { defineConfig } from 'vitest/config';

// The vitest configuration Stryker uses (stryker.config.mjs). Stryker switches mutants inside the test
// process; TIER4_MUTATE_TESTS (comma-separated files) narrows the run to the tests that cover a subset.
const include = process.env.TIER4_MUTATE_TESTS?.split(',') ?? ['test/**/*.test.ts'];

// Stryker runs this from its sandbox, <project>/.stryker-tmp/sandbox-*/: the CLI tests use the project's dist/
// (test/support/global-setup.ts) instead of building the mutated sandbox once per run.
const sandbox = import.meta.dirname;
if (/[\\/]\.stryker-tmp[\\/]sandbox-[^\\/]+$/.test(sandbox))
  process.env.TIER4_DIST_FROM = dirname(dirname(sandbox));

export default defineConfig({
  test: {
    include,
    exclude: ['test/leak-scan.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    maxWorkers: 1,
  },
});
