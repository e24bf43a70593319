// Mutation testing (issue #20): `npm run mutate`. Not part of CI: it runs the tests once per mutant.
// Scope: the modules that guard data and correctness. Narrow a run with
//   npm run mutate -- --mutate core/redact.ts,backups/retention.ts
// and, to keep that run short, name the test files that cover those modules:
//   TIER4_MUTATE_TESTS=test/redact.test.ts,test/backups/retention.test.ts npm run mutate -- --mutate ...
// Results and the survivors left: docs/mutation.md.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  // Each mutant runs only the tests that executed it in the first (coverage) run.
  coverageAnalysis: 'perTest',
  // The machine is shared: two cores at most.
  concurrency: 2,
  timeoutMS: 60_000,
  mutate: [
    'backups/manifest.ts',
    'backups/verify.ts',
    'backups/restore.ts',
    'backups/retention.ts',
    'backups/prune.ts',
    'backups/reuse.ts',
    'backups/create.ts',
    'backups/attachments.ts',
    'backups/crypto/**/*.ts',
    'drills/run.ts',
    'certs/status.ts',
    'certs/validate.ts',
    'certs/rotate.ts',
    'promotion/diff.ts',
    'promotion/apply.ts',
    'promotion/drift.ts',
    'promotion/normalize.ts',
    'charts/primero/policy.ts',
    'charts/primero/network.ts',
    'stacks/azure-demo/policy.ts',
    'core/secrets.ts',
    'core/redact.ts',
  ],
  ignorePatterns: ['dist', 'reports', '.test-output', '.tier4', 'rendered', 'cdktf.out', 'coverage'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 85, low: 70, break: null },
};
