// Mutation testing (issue #20). Not part of CI: it runs the covering tests once per mutant.
//   npm run mutate              every module of the scope, one Stryker run each (scripts/mutate.mjs), re-testing
//                               only what changed since the reports committed in docs/mutation/reports/
//   npm run mutate -- backups/retention.ts     one module
//   npm run mutate:score        the score per module and over the scope, from those reports
// Scope and each module's covering tests: scripts/mutation-scope.mjs. Results and survivors: docs/mutation.md.
import { SCOPE } from './scripts/mutation-scope.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  // No TypeScript checker by default: on this shared 2-core machine it cost about 20 s per mutant (one incremental
  // re-check each), against about 1.5 s for running the covering tests (docs/mutation.md, "Speed"). A mutant that
  // would not compile is run anyway; its tests decide. `npm run mutate -- --checkers typescript <module>` turns
  // it back on.
  checkers: [],
  tsconfigFile: 'tsconfig.json',
  // Each mutant runs only the tests that executed it in the first (coverage) run.
  coverageAnalysis: 'perTest',
  // The machine is shared by several sessions: one test runner (plus the checker).
  concurrency: 1,
  timeoutMS: 60_000,
  mutate: SCOPE.map((entry) => entry.module),
  ignorePatterns: [
    'dist',
    'reports',
    'docs/mutation',
    '.test-output',
    '.tier4',
    'rendered',
    'cdktf.out',
    'coverage',
  ],
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 85, low: 70, break: null },
};
