// The modules that guard data and correctness (issue #20), each with the test files that exercise it in the
// test process. Only those can kill a mutant: Stryker switches mutants inside vitest, and a test that spawns the
// built CLI never sees the active mutant (docs/mutation.md). Naming the files keeps each module's run short.
export const SCOPE = [
  { module: 'backups/verify.ts', tests: ['test/mutation-kills/verify.test.ts'] },
  { module: 'backups/manifest.ts', tests: ['test/mutation-kills/manifest.test.ts'] },
  { module: 'backups/prune.ts', tests: ['test/mutation-kills/prune.test.ts'] },
  {
    module: 'backups/retention.ts',
    tests: ['test/backups/retention.test.ts', 'test/mutation-kills/retention.test.ts'],
  },
  { module: 'backups/reuse.ts', tests: ['test/mutation-kills/reuse.test.ts'] },
  { module: 'backups/restore.ts', tests: [] },
  { module: 'backups/crypto/age.ts', tests: ['test/backups/age-format.test.ts'] },
  { module: 'backups/crypto/age-format.ts', tests: ['test/backups/age-format.test.ts'] },
  { module: 'backups/crypto/digest.ts', tests: ['test/mutation-kills/secrets.test.ts'] },
  { module: 'backups/crypto/mac.ts', tests: ['test/mutation-kills/manifest.test.ts'] },
  { module: 'core/redact.ts', tests: ['test/redact.test.ts', 'test/mutation-kills/redact.test.ts'] },
  { module: 'core/secrets.ts', tests: ['test/mutation-kills/secrets.test.ts'] },
  { module: 'backups/create.ts', tests: [] },
  { module: 'backups/attachments.ts', tests: [] },
  { module: 'drills/run.ts', tests: ['test/drills/drill.test.ts'] },
  { module: 'certs/status.ts', tests: [] },
  { module: 'certs/validate.ts', tests: [] },
  { module: 'certs/rotate.ts', tests: [] },
  { module: 'promotion/diff.ts', tests: [] },
  { module: 'promotion/apply.ts', tests: [] },
  { module: 'promotion/drift.ts', tests: [] },
  { module: 'promotion/normalize.ts', tests: [] },
  { module: 'charts/primero/policy.ts', tests: [] },
  { module: 'charts/primero/network.ts', tests: [] },
  { module: 'stacks/azure-demo/policy.ts', tests: [] },
];
