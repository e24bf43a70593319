import { accessSync, constants, statSync } from 'node:fs';
import type { TargetKind } from '../backups/index.js';
import { postgresUrlProblems } from '../core/config/postgres-url.js';
import { UsageError } from '../core/errors.js';
import { reportVerdict } from './audited.js';
import type { CommandContext } from './context.js';

/** What a restore and its dry run check of the target they are given, before anything else. */

/**
 * Restores never target demo (target-guard.ts). A production set outside production needs
 * --allow-non-production-target (then confirmed with the site name, like any production restore).
 */
export async function guardRestoreTarget(
  ctx: CommandContext,
  site: string,
  target: { url: string; password: string },
  options: { attachmentsTo?: string; allowNonProductionTarget?: boolean },
): Promise<TargetKind> {
  const { checkAttachmentsTarget, checkDatabaseTarget } = await import('../backups/index.js');
  const config = ctx.config().config;
  const verdict = await checkDatabaseTarget(config, site, target, { env: ctx.io.env });
  reportVerdict(ctx, verdict);
  if (options.attachmentsTo) await checkAttachmentsTarget(config, site, options.attachmentsTo);
  if (verdict.kind !== 'non-production') return verdict.kind;
  if (!options.allowNonProductionTarget) {
    throw new UsageError(
      `The target is neither ${site}'s database nor a new database on a production server: this would copy real data outside production. Nothing was restored.`,
      'Restore into production or a scratch database on a production server, or pass --allow-non-production-target and confirm (it is audited).',
    );
  }
  ctx.out.warn(
    `--allow-non-production-target: restoring real data of ${site} outside production; this is recorded in the audit log.`,
  );
  return verdict.kind;
}

export function assertWritableFolder(path: string, option: string): void {
  try {
    accessSync(path, constants.W_OK);
    if (!statSync(path).isDirectory()) throw new Error('not a folder');
  } catch {
    throw new UsageError(`${option} ${path} is not a folder this user can write to; nothing was restored.`);
  }
}

/** --target-database, checked by the configuration's own rule for a postgres:// URL (core/config/schema.ts). */
export function parseTargetUrl(text: string): string {
  const problems = postgresUrlProblems(text, {
    passwordGoes: 'an environment variable named by --target-password-env',
    database: 'required',
  });
  if (problems.length > 0) {
    throw new UsageError(
      `--target-database ${problems.join(', and ')}; nothing was restored.`,
      'Use postgres://user@host:5432/database, with the password in an environment variable (--target-password-env NAME).',
    );
  }
  return text;
}
