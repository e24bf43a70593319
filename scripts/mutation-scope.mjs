// The modules that guard data and correctness (issue #20), each with the test files that exercise it in the
// test process. Only those can kill a mutant: Stryker switches mutants inside vitest, and a test that spawns the
// built CLI never sees the active mutant (docs/mutation.md). Naming the files keeps each module's run short.
// The lists of modules not measured yet (docs/mutation.md) are the test files that import them: a first run
// may show that more, or other, tests are needed.
export const SCOPE = [
  { module: 'backups/verify.ts', tests: ['test/mutation-kills/verify.test.ts'] },
  { module: 'backups/manifest.ts', tests: ['test/mutation-kills/manifest.test.ts'] },
  { module: 'backups/prune.ts', tests: ['test/mutation-kills/prune.test.ts'] },
  {
    module: 'backups/retention.ts',
    tests: ['test/backups/retention.test.ts', 'test/mutation-kills/retention.test.ts'],
  },
  { module: 'backups/reuse.ts', tests: ['test/mutation-kills/reuse.test.ts'] },
  { module: 'backups/restore.ts', tests: ['test/mutation-kills/restore.test.ts'] },
  {
    module: 'backups/crypto/age.ts',
    tests: ['test/mutation-kills/age.test.ts', 'test/mutation-kills/age-streams.test.ts'],
  },
  { module: 'backups/crypto/age-format.ts', tests: ['test/mutation-kills/age.test.ts'] },
  { module: 'backups/crypto/digest.ts', tests: ['test/mutation-kills/secrets.test.ts'] },
  { module: 'backups/crypto/mac.ts', tests: ['test/mutation-kills/manifest.test.ts'] },
  {
    module: 'backups/crypto/canonical-json.ts',
    tests: ['test/backups/canonical-json.test.ts', 'test/mutation-kills/manifest.test.ts'],
  },
  { module: 'core/redact.ts', tests: ['test/redact.test.ts', 'test/mutation-kills/redact.test.ts'] },
  { module: 'core/secrets.ts', tests: ['test/mutation-kills/secrets.test.ts'] },
  {
    module: 'backups/create.ts',
    tests: [
      'test/mutation-kills/create.test.ts',
      'test/mutation-kills/create-refusals.test.ts',
      'test/backups/progress.test.ts',
      // The zstd process (decision 0018): missing, silent, cut short, failing; in-process through runCli.
      'test/backups/zstd.test.ts',
    ],
  },
  { module: 'backups/attachments.ts', tests: ['test/mutation-kills/attachments.test.ts'] },
  // The zstd process a dump goes through (decision 0018): sizes parsed, failures reported, nothing recorded.
  {
    module: 'backups/zstd.ts',
    tests: [
      'test/backups/zstd-process.test.ts',
      'test/backups/zstd.test.ts',
      'test/mutation-kills/create.test.ts',
    ],
  },
  // The parallel restore (decision 0019): the script router and the restore lists, pure; their unit tests.
  {
    module: 'backups/postgres/data-script-router.ts',
    tests: ['test/backups/data-script-router.test.ts'],
  },
  { module: 'backups/postgres/restore-list.ts', tests: ['test/backups/restore-list.test.ts'] },
  { module: 'drills/run.ts', tests: ['test/mutation-kills/drill.test.ts'] },
  { module: 'certs/status.ts', tests: ['test/mutation-kills/certs-status.test.ts'] },
  {
    module: 'certs/validate.ts',
    tests: ['test/certs/validate.test.ts', 'test/mutation-kills/certs-validate.test.ts'],
  },
  { module: 'certs/rotate.ts', tests: ['test/mutation-kills/certs-rotate.test.ts'] },
  {
    module: 'promotion/diff.ts',
    tests: [
      'test/promotion/diff.test.ts',
      'test/mutation-kills/promotion-diff.test.ts',
      'test/mutation-kills/promotion-normalize.test.ts',
    ],
  },
  { module: 'promotion/apply.ts', tests: ['test/mutation-kills/promotion-apply.test.ts'] },
  { module: 'promotion/drift.ts', tests: ['test/mutation-kills/promotion-apply.test.ts'] },
  {
    module: 'promotion/normalize.ts',
    tests: ['test/promotion/diff.test.ts', 'test/mutation-kills/promotion-normalize.test.ts'],
  },
  {
    module: 'charts/primero/policy.ts',
    tests: ['test/charts/policy.test.ts', 'test/mutation-kills/chart-policy.test.ts'],
  },
  { module: 'charts/primero/network.ts', tests: ['test/charts/network.test.ts'] },
  { module: 'stacks/azure-demo/policy.ts', tests: ['test/stacks-azure/policy.test.ts'] },
];
