import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { RestoreAuditRecord, RunAudit, SiteRepository } from '../../backups/index.js';
import { formatSeconds } from '../../core/duration.js';
import { errorMessage, UsageError } from '../../core/errors.js';
import type { DrillReport } from '../../drills/index.js';
import { reportVerdict, withAuditedRepository } from '../audited.js';
import type { CommandContext } from '../context.js';
import { table } from '../output.js';
import { progressLine } from '../progress.js';
import type { Registrar } from '../registrar.js';
import { withSiteRepository } from '../site-repository.js';
import { warnReadableIdentity } from './backup.js';

function sampleSize(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new UsageError('--sample must be a whole number of 0 or more.');
  return parsed;
}

export function registerDrill(program: Command, registrar: Registrar): void {
  const drill = program
    .command('drill')
    .description('Restore drills that prove a backup is complete and usable');

  drill
    .command('run', { isDefault: true })
    .description(
      'restore a backup set into a scratch database, check it, measure RTO, write reports (the default)',
    )
    .option('-s, --site <name>', 'the site whose backup to drill (default: the only site with backups)')
    .option('--backup <id>', 'the backup set (default: the newest)')
    .option(
      '--report-dir <dir>',
      'where to write the JSON, Markdown and JUnit reports (default: .tier4/drills beside tier4.yaml)',
    )
    .option(
      '--sample <n>',
      'attachments to decrypt and check (default: drills.attachmentSample, 50)',
      sampleSize,
    )
    .option('--identity <file>', 'age identity file (default: backups.encryption.identity)')
    .option('--operator <name>', 'who runs the drill, for the audit log (default: the OS user)')
    .action(
      registrar.action(
        async (
          ctx,
          options: {
            site?: string;
            backup?: string;
            reportDir?: string;
            sample?: number;
            identity?: string;
            operator?: string;
          },
        ) => {
          const { runDrill, writeDrillReports, saveDrillSummary, recoveryLine } = await import(
            '../../drills/index.js'
          );
          const { siteIdentities } = await import('../../backups/index.js');
          const { resolveSecret } = await import('../../core/secrets.js');
          // Inside the action: the schema loads zod, which --version and --help never load.
          const { DEFAULT_DRILL_SAMPLE } = await import('../../core/config/schema.js');
          const loaded = ctx.config();
          // The scratch databases are made on the drill server: drills.server, else the site's own server.
          const run = {
            kind: 'drill' as const,
            target: (repo: SiteRepository) => repo.siteConfig.drills?.server ?? repo.siteConfig.database.url,
            operator: options.operator,
          };
          return withAuditedRepository(ctx, options.site, run, async (repo, audit) => {
            const drills = repo.siteConfig.drills;
            const identities = siteIdentities(repo, options.identity);
            await warnReadableIdentity(ctx, repo, options.identity);
            const server = drills?.server
              ? {
                  url: drills.server,
                  password: resolveSecret(drills.password ?? repo.siteConfig.database.password, ctx.io.env),
                }
              : {
                  url: repo.siteConfig.database.url,
                  password: resolveSecret(repo.siteConfig.database.password, ctx.io.env),
                };
            const reportDir = options.reportDir
              ? resolve(ctx.io.cwd, options.reportDir)
              : join(loaded.baseDir, '.tier4', 'drills');
            const { checkDatabaseTarget } = await import('../../backups/index.js');
            const verdict = await checkDatabaseTarget(loaded.config, repo.site, server, {
              drill: true,
              env: ctx.io.env,
            });
            reportVerdict(ctx, verdict);
            audit.begin({ targetKind: verdict.kind });
            ctx.out.info(`Restore drill of ${repo.site} from ${repo.store.location}`);
            const report = await runDrill(repo, {
              identities,
              server,
              ...(options.backup ? { backupId: options.backup } : {}),
              sample: options.sample ?? drills?.attachmentSample ?? DEFAULT_DRILL_SAMPLE,
              ...(drills?.healthUrl ? { healthUrl: drills.healthUrl } : {}),
              signal: ctx.signal,
              onProgress: progressLine(ctx.out),
            });
            // The evidence is kept whatever the outcome: runDrill returns a report for a failing drill too, and
            // one copy failing to be written does not stop the others.
            const paths = await writeDrillReports(report, reportDir).catch((error) => {
              ctx.out.warn(`The drill reports could not be written to ${reportDir}: ${errorMessage(error)}`);
              return undefined;
            });
            await saveDrillSummary(repo, report).catch((error) =>
              ctx.out.warn(`The drill summary could not be stored in the repository: ${errorMessage(error)}`),
            );
            await keepDrillAudit(ctx, repo, audit, report);
            ctx.out.result(
              () =>
                [
                  `Restore drill of ${report.site} (set ${report.setId}): ${report.ok ? 'PASSED' : `FAILED: ${report.failedChecks.join(', ')}`}`,
                  '',
                  table(
                    ['check', 'result', 'evidence'],
                    report.checks.map((c) => [
                      c.name,
                      c.status.toUpperCase(),
                      c.evidence.length > 110 ? `${c.evidence.slice(0, 107)}...` : c.evidence,
                    ]),
                  ),
                  '',
                  // The table cuts long evidence to fit; a failed check's evidence is printed whole below it.
                  ...report.checks
                    .filter((c) => c.status === 'fail' && c.evidence.length > 110)
                    .map((c) => `${c.name}: ${c.evidence}`),
                  recoveryLine(report),
                  ...(paths
                    ? [`Reports: ${paths.markdown}`, `         ${paths.json}`, `         ${paths.junit}`]
                    : ['Reports: not written (see the warning above)']),
                ].join('\n'),
              { ...report, reports: paths ?? null },
            );
            if (!report.ok) {
              const failedStep = report.steps.find((step) => step.outcome === 'failed');
              ctx.out.error(
                `The drill failed: ${report.failedChecks.join(', ')}.${failedStep ? ` The step "${failedStep.step}" failed: ${failedStep.error}` : ''}`,
                `Read ${paths?.markdown ?? 'the drill summary (tier4 drill history)'} and runbooks/restore-drill.md.`,
              );
            }
            return report.ok && paths ? 0 : 1;
          });
        },
      ),
    );

  drill
    .command('history')
    .description('past drills of a site, from the repository, with the RTO trend')
    .option('-s, --site <name>', 'the site (default: the only site with backups)')
    .action(
      registrar.action(async (ctx, options: { site?: string }) => {
        const { drillHistory } = await import('../../drills/index.js');
        return withSiteRepository(ctx, options.site, async (repo) => {
          const history = await drillHistory(repo);
          const rows = history.map((entry, i) => {
            const previous = history
              .slice(0, i)
              .reverse()
              .find((e) => e.report.ok);
            const rto = entry.report.measures.rtoSeconds;
            const trend = previous
              ? `${rto >= previous.report.measures.rtoSeconds ? '+' : ''}${(rto - previous.report.measures.rtoSeconds).toFixed(1)}s`
              : '';
            return {
              drill: entry.report.id,
              startedAt: entry.report.startedAt,
              set: entry.report.setId,
              ok: entry.report.ok,
              failedChecks: entry.report.failedChecks,
              rtoSeconds: rto,
              rtoChange: trend,
              dataAgeSeconds: entry.report.measures.dataAgeSeconds,
              authentic: entry.authentic,
            };
          });
          ctx.out.result(
            () =>
              rows.length === 0
                ? `No drills on record for ${repo.site}. Run \`tier4 drill --site ${repo.site}\`.`
                : table(
                    ['started', 'set', 'result', 'RTO', 'vs last pass', 'data age'],
                    rows.map((r) => [
                      r.startedAt.slice(0, 19).replace('T', ' '),
                      r.set,
                      `${r.ok ? 'passed' : `FAILED (${r.failedChecks.join(', ')})`}${r.authentic ? '' : ' UNTRUSTED'}`,
                      `${r.rtoSeconds.toFixed(1)}s`,
                      r.rtoChange,
                      formatSeconds(r.dataAgeSeconds),
                    ]),
                  ),
            { site: repo.site, drills: rows },
          );
        });
      }),
    );
}

/** The drill's end line: in the local log when it can be written, and in the repository (drills run in the cluster). */
async function keepDrillAudit(
  ctx: CommandContext,
  repo: SiteRepository,
  audit: RunAudit,
  report: DrillReport,
): Promise<void> {
  const { saveAuditRecord } = await import('../../backups/index.js');
  const restored = report.checks.find((c) => c.name === 'row-counts')?.details?.restored;
  const record = audit.finish(report.ok ? 'succeeded' : 'failed', {
    set: report.setId,
    drill: {
      id: report.id,
      ok: report.ok,
      failedChecks: report.failedChecks,
      rtoSeconds: report.measures.rtoSeconds,
    },
    // What the drill read back from its scratch database: row counts only.
    ...(restored && typeof restored === 'object'
      ? { restored: { rows: restored as Record<string, number> } }
      : {}),
  } satisfies Partial<RestoreAuditRecord>);
  await saveAuditRecord(repo, record).catch((error) =>
    ctx.out.warn(`The drill's audit record could not be stored in the repository: ${error.message}`),
  );
  if (audit.localProblem)
    ctx.out.warn(
      `The local audit log could not be written (${audit.localProblem}); the repository keeps the record.`,
    );
}
