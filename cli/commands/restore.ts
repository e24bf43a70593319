import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { withAuditedRepository } from '../audited.js';
import { confirmBySiteName } from '../confirm.js';
import { formatBytes } from '../output.js';
import { progressLine } from '../progress.js';
import type { Registrar } from '../registrar.js';
import { assertWritableFolder, guardRestoreTarget, parseTargetUrl } from '../restore-target.js';
import { positiveInt, warnReadableIdentity } from './backup.js';
import type { DryRunOptions } from './restore-dry-run.js';
import { registerRestoreHistory } from './restore-history.js';

// The backup engine is imported inside each action: --help must not load cloud SDKs.
const engine = () => import('../../backups/index.js');

export function registerRestore(program: Command, registrar: Registrar): void {
  const restore = program
    .command('restore')
    .description('Restore a backup set into a database, and attachments into a folder or the site storage');
  registerRestoreHistory(restore, registrar);
  restore
    .command('run', { isDefault: true })
    .description('restore a backup set (the default); never into the demo site, and every restore is audited')
    .argument('<id>', 'backup set id, or "latest"')
    .option('-s, --site <name>', 'the site whose backup to restore (default: the only site with backups)')
    .requiredOption(
      '--target-database <url>',
      'postgres://user@host:port/database to restore into (no password in it)',
    )
    .option(
      '--target-password-env <name>',
      "environment variable holding the target's password (default: the site's database password)",
    )
    .option(
      '--attachments-to <path|url>',
      "restore attachments into this folder, or the site's bucket/container URL",
    )
    .option('-j, --jobs <n>', 'parallel pg_restore jobs', positiveInt('--jobs'), 2)
    .option(
      '--temp-dir <dir>',
      'private folder for plaintext (default: the system temp folder): the dump is decrypted and checked there when --jobs is above 1 or the target exists empty, and attachments bound for a bucket pass through it; it needs room for the dump',
    )
    .option('--replace', 'drop and recreate the target database if it is not empty')
    .option('--identity <file>', 'age identity file (default: backups.encryption.identity)')
    .option('-y, --yes', 'do not ask; needs --confirm <site>')
    .option('--confirm <site>', 'the site name, to confirm non-interactively')
    .option(
      '--allow-non-production-target',
      "restore a production set into a database that is neither production's nor new on a production server (confirmed, audited; never demo)",
    )
    .option('--operator <name>', 'who is restoring, for the audit log (default: the OS user)')
    .option(
      '--dry-run',
      'check everything up to the first change (set, target, permissions, tools, space), say what would be done, change nothing',
    )
    .action(
      registrar.action(
        async (
          ctx,
          id: string,
          options: DryRunOptions & { operator?: string; yes?: boolean; confirm?: string; dryRun?: boolean },
        ) => {
          if (options.dryRun) return (await import('./restore-dry-run.js')).restoreDryRun(ctx, id, options);
          const target = parseTargetUrl(options.targetDatabase);
          if (options.tempDir) assertWritableFolder(resolve(ctx.io.cwd, options.tempDir), '--temp-dir');
          const { planRestore, runRestore, nextSteps, siteIdentities, openBlobTarget } = await engine();
          const { describeIncomplete } = await import('../../backups/index.js');
          const { resolveSecret } = await import('../../core/secrets.js');
          const run = { kind: 'restore' as const, target: () => target, operator: options.operator };
          return withAuditedRepository(ctx, options.site, run, async (repo, audit) => {
            const password = options.targetPasswordEnv
              ? resolveSecret({ env: options.targetPasswordEnv }, ctx.io.env)
              : resolveSecret(repo.siteConfig.database.password, ctx.io.env);
            const targetKind = await guardRestoreTarget(ctx, repo.site, { url: target, password }, options);
            const outsideProduction = targetKind === 'non-production';
            const identities = siteIdentities(repo, options.identity);
            await warnReadableIdentity(ctx, repo, options.identity);
            const attachmentsTo = options.attachmentsTo
              ? await openBlobTarget(options.attachmentsTo, repo.siteConfig.attachments, ctx.io.env)
              : undefined;
            audit.begin({
              targetKind,
              ...(outsideProduction ? { allowNonProductionTarget: true } : {}),
              ...(options.attachmentsTo ? { attachmentsTo: options.attachmentsTo } : {}),
            });
            // Shared with other restores and backups; a prune waits for it (it could delete this set).
            const { acquireRestoreLock } = await import('../../backups/index.js');
            const lock = await acquireRestoreLock(repo.state, repo.site, 'restore');
            try {
              ctx.out.info(`Verifying backup set ${id} of ${repo.site} before restoring…`);
              const plan = await planRestore(repo, id, { url: target, password }, identities, {
                signal: ctx.signal,
                onProgress: progressLine(ctx.out),
              });
              for (const warning of plan.warnings) ctx.out.warn(warning);
              if (plan.targetIncomplete) {
                const { databaseName } = await import('../../core/postgres/connection.js');
                ctx.out.warn(
                  `The target ${describeIncomplete(databaseName(target), plan.targetIncomplete)}.`,
                );
              }
              if (plan.targetState === 'not-empty' && !options.replace) {
                throw new UsageError(
                  `The target database is not empty; nothing was restored.`,
                  'Restore into a new database, or pass --replace to drop and recreate it.',
                );
              }
              audit.record.set = plan.manifest.id;
              if (repo.siteConfig.role === 'production' || plan.targetState === 'not-empty') {
                await confirmBySiteName(
                  ctx,
                  repo.site,
                  `This restores ${plan.manifest.id} of ${repo.site} into ${target.replace(/^postgres(ql)?:\/\//, '')}${outsideProduction ? ', a database outside production' : ''}${plan.targetState === 'not-empty' ? ', dropping what that database holds now' : ''}`,
                  { ...options, command: restoreCommand(id, repo.site, options) },
                );
              }
              const result = await runRestore(repo, plan, {
                identities,
                replace: options.replace === true,
                jobs: options.jobs,
                ...(options.tempDir ? { tempDir: resolve(ctx.io.cwd, options.tempDir) } : {}),
                ...(attachmentsTo ? { attachmentsTo } : {}),
                signal: ctx.signal,
                onProgress: progressLine(ctx.out),
              });
              await attachmentsTo?.close();
              audit.finish(result.problems.length > 0 ? 'failed' : 'succeeded', {
                restored: {
                  tables: result.restoredTables,
                  rows: plan.manifest.database.rowCounts,
                  databaseBytes: plan.manifest.database.plainSize,
                  attachments: result.attachments,
                  attachmentBytes: result.attachmentBytes,
                },
                ...(result.problems.length > 0
                  ? { error: `${result.problems.length} attachment(s) not restored` }
                  : {}),
              });
              const steps = nextSteps(repo.site, repo.siteConfig.primero.solr);
              const attachmentsLine = attachmentsTo
                ? `Attachments: ${result.attachments} restored (${formatBytes(result.attachmentBytes)}) in ${result.seconds.attachments.toFixed(1)}s.`
                : `Attachments were NOT restored (no --attachments-to): the ${plan.manifest.attachments.count} attachment(s) of this set are still only in the repository.`;
              ctx.out.result(
                () =>
                  [
                    `Restored ${result.id} into ${result.database}: ${result.restoredTables} tables in ${result.seconds.database.toFixed(1)}s.`,
                    attachmentsLine,
                    ...result.problems.map(
                      (p) =>
                        `  not restored: attachment ${p.key}: ${p.problem}${p.detail ? ` (${p.detail})` : ''}`,
                    ),
                    '',
                    'Next steps:',
                    ...steps.map((step, i) => `  ${i + 1}. ${step}`),
                  ].join('\n'),
                {
                  ok: result.problems.length === 0,
                  ...result,
                  attachmentsNotRestored: attachmentsTo ? 0 : plan.manifest.attachments.count,
                  warnings: plan.warnings,
                  nextSteps: steps,
                },
              );
              if (!attachmentsTo)
                ctx.out.warn('Attachments were not restored; pass --attachments-to to restore them.');
              if (result.problems.length > 0) {
                ctx.out.warn(`${result.problems.length} attachment(s) were refused and not restored.`);
                return 1;
              }
              return 0;
            } finally {
              await lock.release();
            }
          });
        },
      ),
    );
}

/** The restore's own command line, for a confirmation hint that works as written. */
function restoreCommand(
  id: string,
  site: string,
  options: {
    targetDatabase: string;
    replace?: boolean;
    allowNonProductionTarget?: boolean;
    attachmentsTo?: string;
    targetPasswordEnv?: string;
  },
): string {
  return [
    `tier4 restore ${id} --site ${site} --target-database '${options.targetDatabase}'`,
    options.targetPasswordEnv ? `--target-password-env ${options.targetPasswordEnv}` : '',
    options.attachmentsTo ? `--attachments-to '${options.attachmentsTo}'` : '',
    options.replace ? '--replace' : '',
    options.allowNonProductionTarget ? '--allow-non-production-target' : '',
  ]
    .filter(Boolean)
    .join(' ');
}
