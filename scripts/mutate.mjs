// npm run mutate [-- [module.ts ...] [Stryker options]]  runs Stryker module by module (scripts/mutation-scope.mjs),
//   each with its own incremental report in docs/mutation/reports/, so a run re-tests only what changed and an
//   interrupted session keeps what it measured. A module whose source and test files are unchanged since its
//   report was written is not run at all (--force runs it again, every mutant). Other options go to Stryker.
// npm run mutate:score  prints the score per module and over the scope from the committed reports, and names
//   the modules not measured yet and those whose report is stale (source or tests changed since).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { SCOPE } from './mutation-scope.mjs';

const REPORTS = 'docs/mutation/incremental';

/** The report of a module: Stryker's incremental file, a mutation-testing-report-schema JSON report. */
export const reportPath = (module) => `${REPORTS}/${module.replaceAll('/', '__')}.json`;

/** git's blob id of a text, as `git hash-object` prints it: the stamp that says which version was measured. */
export function blobId(text) {
  const bytes = Buffer.from(text, 'utf8');
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

const readText = (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

/** Counts as Stryker's metrics do: detected = killed + timeout; valid = detected + survived + no coverage. */
function count(mutants) {
  const by = (status) => mutants.filter((mutant) => mutant.status === status).length;
  const killed = by('Killed');
  const timeout = by('Timeout');
  const survived = by('Survived');
  const noCoverage = by('NoCoverage');
  const invalid = by('CompileError') + by('RuntimeError');
  const ignored = by('Ignored');
  return { total: mutants.length, killed, timeout, survived, noCoverage, invalid, ignored };
}

const score = ({ killed, timeout, survived, noCoverage }) => {
  const valid = killed + timeout + survived + noCoverage;
  return valid === 0 ? undefined : ((killed + timeout) / valid) * 100;
};

/** What the committed report says about one module, and whether it still describes the code and tests. */
export function moduleState({ module, tests }) {
  const report = readText(reportPath(module));
  if (!report) return { module, state: 'not measured' };
  const parsed = JSON.parse(report);
  const file = parsed.files[module];
  if (!file) return { module, state: 'not measured' };
  const stale = [];
  const current = readText(module);
  if (current === undefined || blobId(current) !== blobId(file.source))
    stale.push(
      `${module} (measured ${blobId(file.source).slice(0, 10)}, now ${current ? blobId(current).slice(0, 10) : 'gone'})`,
    );
  const measuredTests = parsed.testFiles ?? {};
  for (const test of tests) {
    const now = readText(test);
    const then = measuredTests[test]?.source;
    if (then === undefined) stale.push(`${test} (not in the measured run)`);
    else if (now === undefined || blobId(now) !== blobId(then)) stale.push(`${test} (changed)`);
  }
  return { module, state: stale.length ? 'stale' : 'fresh', stale, counts: count(file.mutants) };
}

function printScore() {
  const states = SCOPE.map(moduleState);
  const total = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, total: 0, invalid: 0, ignored: 0 };
  const pct = (value) => (value === undefined ? '  n/a ' : `${value.toFixed(2).padStart(6)}%`);
  for (const entry of states) {
    if (!entry.counts) {
      console.log(`${'  --   '} ${entry.module}: not measured`);
      continue;
    }
    // Only reports that still describe the code and its tests count toward the total.
    if (entry.state === 'fresh') for (const key of Object.keys(total)) total[key] += entry.counts[key];
    const { killed, timeout, survived, noCoverage, total: all, invalid } = entry.counts;
    console.log(
      `${pct(score(entry.counts))} ${entry.module}: ${all} mutants, ${killed} killed, ${timeout} timeout, ${survived} survived, ${noCoverage} no coverage, ${invalid} invalid${entry.state === 'stale' ? `  STALE: ${entry.stale.join(', ')}` : ''}`,
    );
  }
  const measured = states.filter((entry) => entry.state === 'fresh');
  console.log(
    `\n${pct(score(total))} over the ${measured.length} module(s) of ${states.length} measured and unchanged since (${total.total} mutants, ${total.killed + total.timeout} detected, ${total.survived} survived, ${total.noCoverage} no coverage)`,
  );
  const missing = states.filter((entry) => !entry.counts).map((entry) => entry.module);
  if (missing.length) console.log(`Not measured yet: ${missing.join(', ')}`);
  const stale = states.filter((entry) => entry.state === 'stale').map((entry) => entry.module);
  if (stale.length) console.log(`Stale (run \`npm run mutate -- ${stale.join(' ')}\`): ${stale.join(', ')}`);
}

function run(args) {
  const force = args.includes('--force');
  const named = args.filter((arg) => arg.endsWith('.ts'));
  const strykerOptions = args.filter((arg) => !arg.endsWith('.ts'));
  const unknown = named.filter((name) => !SCOPE.some((entry) => entry.module === name));
  if (unknown.length) {
    console.error(`Not in the mutation scope (scripts/mutation-scope.mjs): ${unknown.join(', ')}`);
    process.exit(2);
  }
  // Named modules run in the order given.
  const selected = named.length ? named.map((name) => SCOPE.find((entry) => entry.module === name)) : SCOPE;
  for (const entry of selected) {
    if (entry.tests.length === 0) {
      console.log(`${entry.module}: no covering test files named in scripts/mutation-scope.mjs yet, skipped`);
      continue;
    }
    if (!force && moduleState(entry).state === 'fresh') {
      console.log(`${entry.module}: unchanged since its report, not run again`);
      continue;
    }
    console.log(`${entry.module}: running Stryker with ${entry.tests.join(', ')}`);
    const result = spawnSync(
      'npx',
      [
        'stryker',
        'run',
        '--mutate',
        entry.module,
        '--incremental',
        '--incrementalFile',
        reportPath(entry.module),
        ...strykerOptions,
      ],
      { stdio: 'inherit', env: { ...process.env, TIER4_MUTATE_TESTS: entry.tests.join(',') } },
    );
    if (result.status !== 0) {
      console.error(
        `${entry.module}: Stryker failed (exit ${result.status}); the reports of other modules are kept`,
      );
      process.exit(result.status ?? 1);
    }
  }
  printScore();
}

const args = process.argv.slice(2);
if (args[0] === '--score') printScore();
else run(args);
