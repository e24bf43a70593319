import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import {
  askToConfirm,
  type ConfirmRequest,
  commandLine,
  confirmationNeeded,
  confirmOptions,
} from '../confirm.js';
import type { CommandContext } from '../context.js';
import { table } from '../output.js';
import type { Registrar } from '../registrar.js';
import { withSiteRepository } from '../site-repository.js';

/**
 * tier4 promote: configuration from demo to production, with a diff, a confirmation, a verified apply and
 * a rollback. The library (promotion/) is imported inside the actions so `tier4 --help` stays light.
 */

interface SiteOptions {
  from?: string;
  to?: string;
}

interface ApplyFlags extends SiteOptions {
  yes?: boolean;
  confirm?: string;
  allowDeletions?: boolean;
  backup?: boolean;
  operator?: string;
}

interface RollbackFlags {
  to?: string;
  site?: string;
  yes?: boolean;
  confirm?: string;
  operator?: string;
}

/** The backup engine, for preflight's "newest backup within RPO" check and `apply --backup`. */
async function backupHooks(ctx: CommandContext): Promise<import('../../promotion/index.js').PromotionHooks> {
  const { listSets, createBackup, siteDatabase } = await import('../../backups/index.js');
  return {
    newestBackupAt: (site) =>
      withSiteRepository(ctx, site, async (repo) => {
        const newest = (await listSets(repo)).sets.at(-1);
        return newest ? new Date(newest.snapshotAt) : undefined;
      }),
    takeBackup: (site) =>
      withSiteRepository(ctx, site, async (repo) => {
        const { manifest } = await createBackup(repo, siteDatabase(repo), { signal: ctx.signal });
        return { id: manifest.id };
      }),
  };
}

async function promotionContext(ctx: CommandContext) {
  const loaded = ctx.config();
  return {
    loaded,
    env: ctx.io.env,
    signal: ctx.signal,
    hooks: await backupHooks(ctx),
    onProgress: (message: string) => {
      ctx.out.progress(message);
      ctx.out.debug(message);
    },
  };
}

/** The confirmation request for changing `site` (cli/confirm.ts holds the one rule). */
function confirmRequest(
  ctx: CommandContext,
  site: string,
  consequence: string,
  command: string,
  flags: { yes?: boolean; confirm?: string },
): ConfirmRequest {
  return { target: site, consequence, command: commandLine(ctx, command), ...flags };
}

function targetSite(ctx: CommandContext, explicit: string | undefined): string {
  const site = explicit ?? ctx.config().config.promotion?.to;
  if (!site) {
    throw new UsageError(
      'Which site? tier4.yaml has no `promotion:` block.',
      'Add `promotion: {from: demo, to: production}` to tier4.yaml, or pass the site.',
    );
  }
  return site;
}

export function registerPromote(program: Command, registrar: Registrar): void {
  const promote = program
    .command('promote')
    .description('Promote configuration from demo to production, with a diff and rollback');

  promote
    .command('plan')
    .description('preflight both sites, then show what promoting would add, change and delete')
    .option('--from <site>', 'the site to promote from (default: promotion.from)')
    .option('--to <site>', 'the site to promote to (default: promotion.to)')
    .option(
      '--detailed-exitcode',
      'as terraform plan: exit 0 when there is nothing to promote, 2 when there are changes, 1 on error',
    )
    .action(
      registrar.action(async (ctx, options: SiteOptions & { detailedExitcode?: boolean }) => {
        const { planPromotion, renderDiff, renderPreflight, renderSummary } = await import(
          '../../promotion/index.js'
        );
        const plan = await planPromotion(await promotionContext(ctx), options);
        const style = ctx.out.style.bind(ctx.out);
        ctx.out.result(
          () => {
            const lines = [
              style(
                `Promotion plan: ${plan.from} (${plan.fromVersion ?? '?'}) → ${plan.to} (${plan.toVersion ?? '?'})`,
                'bold',
              ),
              '',
              'Preflight',
              renderPreflight(plan.preflight.checks, style),
            ];
            if (plan.diff)
              lines.push('', renderDiff(plan.diff, style, plan), '', renderSummary(plan.diff, style, plan));
            if (plan.blocked)
              lines.push('', style('Blocked: a preflight check failed; apply would refuse.', 'red'));
            else if (plan.diff && plan.diff.summary.destructive > 0)
              lines.push(style('apply needs --allow-deletions for this plan.', 'yellow'));
            return lines.join('\n');
          },
          { ok: !plan.blocked, ...plan },
        );
        if (plan.blocked) return 1;
        return options.detailedExitcode && (plan.diff?.summary.changes ?? 0) > 0 ? 2 : 0;
      }),
    );

  confirmOptions(promote.command('apply'))
    .description('plan, confirm, save a rollback point, promote, apply, wait and verify')
    .option('--from <site>', 'the site to promote from (default: promotion.from)')
    .option('--to <site>', 'the site to promote to (default: promotion.to)')
    .option(
      '--allow-deletions',
      'let the apply delete forms, lookups and reports production has and demo lacks',
    )
    .option('--backup', 'take a production backup first')
    .option('--operator <name>', 'who is promoting, for the audit log (default: the OS user)')
    .action(
      registrar.action(async (ctx, options: ApplyFlags) => {
        const to = targetSite(ctx, options.to);
        const from = options.from ? ` --from ${options.from}` : '';
        const request = (consequence: string) =>
          confirmRequest(
            ctx,
            to,
            consequence,
            `promote apply${from} --to ${to}${options.allowDeletions ? ' --allow-deletions' : ''}${options.backup ? ' --backup' : ''}`,
            options,
          );
        // The flags are checked before anything runs; the question, if any, comes after the plan is shown.
        const mode = confirmationNeeded(ctx, request(`This changes ${to}`));
        const promotion = await import('../../promotion/index.js');
        const context = await promotionContext(ctx);
        if (options.backup && !context.hooks.takeBackup) {
          throw new UsageError(
            `--backup cannot run: ${promotion.BACKUPS_UNAVAILABLE.replace('skipped: ', '')}.`,
            'Take a database backup by your usual means first, then run apply without --backup.',
          );
        }
        const style = ctx.out.style.bind(ctx.out);
        const result = await promotion.applyPromotion(context, {
          ...options,
          onPlan: (plan) => {
            ctx.out.info(
              [
                style(
                  `Promotion plan: ${plan.from} (${plan.fromVersion ?? '?'}) → ${plan.to} (${plan.toVersion ?? '?'})`,
                  'bold',
                ),
                promotion.renderPreflight(plan.preflight.checks, style),
                ...(plan.diff
                  ? [
                      '',
                      promotion.renderDiff(plan.diff, style, plan),
                      '',
                      promotion.renderSummary(plan.diff, style, plan),
                    ]
                  : []),
              ].join('\n'),
            );
          },
          confirm: async (plan) => {
            if (mode === 'ask') {
              await askToConfirm(
                ctx,
                request(
                  `This applies ${plan.from}'s configuration to ${plan.to}${plan.diff?.summary.destructive ? ` and DELETES ${plan.diff.summary.destructive} item(s)` : ''}`,
                ),
              );
            }
            return true;
          },
        });
        const json = {
          ok: true,
          id: result.id,
          status: result.status,
          from: result.plan.from,
          to: result.plan.to,
          rollbackPoint: result.rollbackPoint ?? null,
          configurationId: result.configurationId ?? null,
          configurationVersion: result.configurationVersion ?? null,
          backupId: result.backupId ?? null,
          verified: result.verified,
          summary: result.plan.diff?.summary ?? null,
        };
        if (result.status === 'nothing-to-do') {
          ctx.out.result(
            `Nothing to promote: ${result.plan.to} already has ${result.plan.from}'s configuration.`,
            json,
          );
          return 0;
        }
        ctx.out.result(
          () =>
            [
              style(
                `Promotion ${result.id} applied and verified: ${result.plan.to} now has ${result.plan.from}'s configuration (${result.configurationVersion}).`,
                'green',
              ),
              `Rollback point on ${result.plan.to}: ${result.rollbackPoint}`,
              `Undo with: tier4 -c ${context.loaded.path} promote rollback --site ${result.plan.to} --to ${result.rollbackPoint}`,
            ].join('\n'),
          json,
        );
        return 0;
      }),
    );

  confirmOptions(promote.command('rollback'))
    .description("apply production's configuration from before the last promotion again, and verify")
    .option(
      '--to <configuration-id>',
      'the configuration state to apply (default: the newest promotion’s rollback point)',
    )
    .option('--site <site>', 'the production site (default: promotion.to)')
    .option('--operator <name>', 'who is rolling back, for the audit log (default: the OS user)')
    .action(
      registrar.action(async (ctx, options: RollbackFlags) => {
        const site = targetSite(ctx, options.site);
        const request = confirmRequest(
          ctx,
          site,
          `This applies configuration ${options.to ?? '(the newest rollback point)'} on ${site}, replacing its forms, lookups and reports`,
          `promote rollback --site ${site}${options.to ? ` --to ${options.to}` : ''}`,
          options,
        );
        if (confirmationNeeded(ctx, request) === 'ask') await askToConfirm(ctx, request);
        const { rollbackPromotion } = await import('../../promotion/index.js');
        const result = await rollbackPromotion(await promotionContext(ctx), {
          site,
          ...(options.to ? { configurationId: options.to } : {}),
          ...(options.operator ? { operator: options.operator } : {}),
        });
        for (const item of result.remaining) {
          ctx.out.warn(
            `${item} was added by the promotion and remains: Primero never deletes agencies, roles or user groups.`,
          );
        }
        ctx.out.result(
          result.verified
            ? `Rolled back ${result.site} to configuration ${result.configurationId}${result.promotionId ? ` (before promotion ${result.promotionId})` : ''}, and verified it.`
            : `Applied configuration ${result.configurationId} on ${result.site}. No fingerprint of it is recorded, so it was not compared item by item.`,
          { ok: true, ...result },
        );
        return 0;
      }),
    );

  promote
    .command('history')
    .description('past promotions and rollbacks, from the audit log tier4 keeps')
    .option('-n, --limit <n>', 'how many runs to show, newest first', '20')
    .action(
      registrar.action(async (ctx, options: { limit: string }) => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1)
          throw new UsageError('--limit must be a whole number of at least 1.');
        const { auditHistory, auditLogPathFor, readAudit } = await import('../../promotion/index.js');
        const path = auditLogPathFor(ctx.config());
        const { records, skipped } = readAudit(path);
        if (skipped > 0) ctx.out.warn(`${skipped} unreadable line(s) in ${path} were skipped.`);
        const runs = auditHistory(records)
          .slice(0, limit)
          .map(({ before: _before, ...run }) => run);
        ctx.out.result(
          () =>
            runs.length === 0
              ? `No promotions recorded yet (${path}).`
              : table(
                  ['started', 'kind', 'result', 'operator', 'sites', 'versions', 'changes', 'rollback point'],
                  runs.map((run) => [
                    run.at.replace(/\.\d+Z$/, 'Z'),
                    run.kind,
                    run.failedStep ? `${run.result} (${run.failedStep})` : run.result,
                    run.operator,
                    run.from ? `${run.from} → ${run.to}` : run.to,
                    run.fromVersion
                      ? `${run.fromVersion} → ${run.toVersion ?? '?'}`
                      : (run.configurationVersion ?? ''),
                    run.summary
                      ? `+${run.summary.added} ~${run.summary.changed} -${run.summary.removed}`
                      : '',
                    run.rollbackPoint ?? '',
                  ]),
                ),
          { ok: true, log: path, runs },
        );
        return 0;
      }),
    );
}
