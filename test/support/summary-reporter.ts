import type { UserConsoleLog } from 'vitest';
import type { Reporter, TestModule } from 'vitest/node';
import { captureOutput } from './capture.js';

/**
 * Ends the run with the plain line CI reads: `N passed, N failed`. Also copies every console line a test
 * printed into the capture folder, where the leak scan looks for test secrets.
 */
export default class SummaryReporter implements Reporter {
  onUserConsoleLog(log: UserConsoleLog): void {
    captureOutput('console.log', log.content);
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
      }
      // A file that failed to load has no tests: count it as a failure rather than let it vanish.
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed += 1;
    }
    failed += unhandledErrors.length;
    process.stdout.write(
      `\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`,
    );
  }
}
