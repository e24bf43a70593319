import type { Command } from 'commander';
import type { RestoreAuditRecord } from '../../backups/index.js';
import { formatBytes, table } from '../output.js';
import type { Registrar } from '../registrar.js';
import { withSiteRepository } from '../site-repository.js';

function counts(run: RestoreAuditRecord): string {
  if (run.drill) return `drill ${run.drill.ok ? 'passed' : `failed: ${run.drill.failedChecks.join(', ')}`}`;
  if (!run.restored) return '';
  const r = run.restored;
  const parts = [`${r.rows.cases ?? 0} cases`];
  if (r.tables !== undefined) parts.unshift(`${r.tables} tables`);
  if (r.attachments !== undefined)
    parts.push(`${r.attachments} attachments (${formatBytes(r.attachmentBytes ?? 0)})`);
  return parts.join(', ');
}

export function registerRestoreHistory(restore: Command, registrar: Registrar): void {
  restore
    .command('history')
    .description(
      'past restores and drills, refused and failed ones too, from the audit log beside tier4.yaml',
    )
    .option('-s, --site <name>', "only this site's sets; also reads the drill records kept in its repository")
    .action(
      registrar.action(async (ctx, options: { site?: string }) => {
        const { repositoryAuditRecords, restoreAuditPath, restoreHistory } = await import(
          '../../backups/index.js'
        );
        const { auditRuns } = await import('../../core/audit-log.js');
        const path = restoreAuditPath(ctx.config());
        const local = restoreHistory(path);
        let runs = local.runs;
        if (options.site) {
          const site = options.site;
          const { site: siteConfig } = ctx.site(site);
          const stored = siteConfig.backups
            ? await withSiteRepository(ctx, site, (repo) => repositoryAuditRecords(repo))
            : [];
          runs = auditRuns([...runs, ...stored]).filter((run) => run.site === site);
        }
        ctx.out.result(
          () =>
            runs.length === 0
              ? `No restores or drills on record in ${path}.`
              : [
                  table(
                    ['started', 'kind', 'site', 'set', 'target', 'result', 'by', 'restored'],
                    runs.map((run) => [
                      run.at.slice(0, 19).replace('T', ' '),
                      run.kind,
                      run.site,
                      run.set ?? '',
                      `${run.target}${run.targetKind ? ` (${run.targetKind})` : ''}`,
                      `${run.result}${run.allowNonProductionTarget ? ' (allowed outside production)' : ''}`,
                      run.operator,
                      counts(run),
                    ]),
                  ),
                  ...(local.skipped > 0
                    ? ['', `${local.skipped} unreadable line(s) in ${path} were skipped.`]
                    : []),
                ].join('\n'),
          { log: path, runs, skipped: local.skipped },
        );
      }),
    );
}
