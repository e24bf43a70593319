import { formatSeconds } from '../core/duration.js';
import type { DrillReport } from './report.js';

/** The step that puts the set into the scratch database (drills/run.ts); RTO means something only after it. */
const RESTORE_STEP = 'restore into the scratch database';

/** Whether the set was restored at all: a drill that failed before that has no RTO to speak of. */
export function wasRestored(report: DrillReport): boolean {
  return report.steps.some((step) => step.step === RESTORE_STEP && step.outcome !== 'failed');
}

/** One line on what was restored and how long recovery took, true to a drill that failed early. */
export function recoveryLine(report: DrillReport): string {
  if (!wasRestored(report)) {
    const failed = report.steps.find((step) => step.outcome === 'failed');
    return `Nothing was restored${failed ? ` (the step "${failed.step}" failed)` : ''}: no RTO was measured.`;
  }
  return `RTO ${formatSeconds(report.measures.rtoSeconds)}; data age (RPO) ${formatSeconds(report.measures.dataAgeSeconds)}; ${report.measures.bytesMoved} bytes moved.`;
}

/** The drill report for people: what was proven, what failed, and how long recovery took. */
export function drillMarkdown(report: DrillReport): string {
  const restored = wasRestored(report);
  const icon = { ok: 'PASS', fail: 'FAIL', skip: 'skip' } as const;
  const lines = [
    `# Restore drill: ${report.site}, ${report.ok ? 'PASSED' : 'FAILED'}`,
    '',
    `- Drill ${report.id}, ${report.startedAt} to ${report.finishedAt}`,
    ...(restored
      ? [
          `- Backup set ${report.setId}, restored into the scratch database \`${report.scratchDatabase}\` (dropped afterwards)`,
          `- Recovery time (RTO): **${formatSeconds(report.measures.rtoSeconds)}** (${report.measures.rtoSeconds.toFixed(1)} s)`,
        ]
      : [`- Backup set ${report.setId}: ${recoveryLine(report)}`]),
    `- Age of the data at the drill (RPO): **${formatSeconds(report.measures.dataAgeSeconds)}**`,
    `- Bytes moved: ${report.measures.bytesMoved}`,
    '',
    '## Checks',
    '',
    '| check | result | evidence |',
    '|---|---|---|',
    ...report.checks.map(
      (check) => `| ${check.name} | ${icon[check.status]} | ${check.evidence.replaceAll('|', '\\|')} |`,
    ),
    '',
    '## Steps',
    '',
    '| step | seconds | outcome |',
    '|---|---|---|',
    ...report.steps.map(
      (step) =>
        `| ${step.step} | ${step.seconds.toFixed(2)} | ${step.outcome === 'failed' ? `FAILED: ${(step.error ?? '').replaceAll('|', '\\|')}` : 'ok'} |`,
    ),
    '',
  ];
  if (!report.ok) {
    lines.push(
      '## What to do',
      '',
      `The failed check(s): ${report.failedChecks.join(', ')}. See runbooks/restore-drill.md. Do not prune older backup sets until a drill passes again.`,
      '',
    );
  }
  return lines.join('\n');
}

function xml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

/** JUnit XML, so a CI system shows each check as a test case. */
export function drillJUnit(report: DrillReport): string {
  const failures = report.checks.filter((check) => check.status === 'fail').length;
  const skipped = report.checks.filter((check) => check.status === 'skip').length;
  const cases = report.checks.map((check) => {
    const open = `    <testcase classname="tier4.drill.${xml(report.site)}" name="${xml(check.name)}">`;
    if (check.status === 'fail')
      return `${open}\n      <failure message="${xml(check.evidence)}"/>\n    </testcase>`;
    if (check.status === 'skip')
      return `${open}\n      <skipped message="${xml(check.evidence)}"/>\n    </testcase>`;
    return `${open}\n      <system-out>${xml(check.evidence)}</system-out>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="tier4 restore drill" tests="${report.checks.length}" failures="${failures}" skipped="${skipped}" time="${report.measures.rtoSeconds.toFixed(3)}">`,
    `  <testsuite name="drill ${xml(report.site)} ${xml(report.setId)}" tests="${report.checks.length}" failures="${failures}" skipped="${skipped}" timestamp="${report.startedAt}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
