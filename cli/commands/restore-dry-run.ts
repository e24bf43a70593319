import { dirname, resolve } from 'node:path';
import type { CheckOutcome, RestorePlan, TargetKind } from '../../backups/index.js';
import { errorMessage, OperationError, Tier4Error } from '../../core/errors.js';
import type { CommandContext } from '../context.js';
import { formatBytes } from '../output.js';
import { progressLine } from '../progress.js';
import { assertWritableFolder, guardRestoreTarget, parseTargetUrl } from '../restore-target.js';
import { withSiteRepository } from '../site-repository.js';
import { warnReadableIdentity } from './backup.js';

export interface DryRunOptions {
  site?: string;
  targetDatabase: string;
  targetPasswordEnv?: string;
  attachmentsTo?: string;
  jobs: number;
  tempDir?: string;
  replace?: boolean;
  identity?: string;
  allowNonProductionTarget?: boolean;
}

export interface DryRunCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  hint?: string;
}

/**
 * `restore --dry-run`: every check a restore makes before its first change, each reported (one failing does not
 * hide the others), then what the restore would do. It takes no lock, writes no audit line, sweeps nothing,
 * creates no file and no database, and asks for no confirmation. Exit 0 when a restore would proceed, else 1.
 */
export async function restoreDryRun(
  ctx: CommandContext,
  id: string,
  options: DryRunOptions,
): Promise<number> {
  const target = parseTargetUrl(options.targetDatabase);
  const engine = await import('../../backups/index.js');
  const { checkSet, inspectTarget, restoreMethod, restorePrerequisites } = engine;
  const { readLock, isLive } = await import('../../backups/index.js');
  const { resolveSecret } = await import('../../core/secrets.js');
  const { restoreAuditPath } = await import('../../backups/index.js');
  const { folderProblem } = await import('../../core/writable.js');

  return withSiteRepository(ctx, options.site, async (repo) => {
    const checks: DryRunCheck[] = [];
    /** Runs one check; a failure is recorded (with its hint) and the next checks still run. */
    const check = async <T>(name: string, work: () => Promise<[T, CheckOutcome]>): Promise<T | undefined> => {
      try {
        const [value, outcome] = await work();
        checks.push({ name, ...outcome });
        return value;
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        const hint = error instanceof Tier4Error ? error.hint : undefined;
        checks.push({ name, status: 'fail', detail: errorMessage(error), ...(hint ? { hint } : {}) });
        return undefined;
      }
    };
    const ok = (detail: string): CheckOutcome => ({ status: 'ok', detail });
    const skipped = (name: string, why: string) => checks.push({ name, status: 'skip', detail: why });

    const tempDir = options.tempDir ? resolve(ctx.io.cwd, options.tempDir) : undefined;
    if (tempDir)
      await check('temp folder', async () => {
        assertWritableFolder(tempDir, '--temp-dir');
        return [tempDir, ok(`${tempDir} is a writable folder`)];
      });

    const password = await check('target password', async () => {
      const secret = options.targetPasswordEnv
        ? resolveSecret({ env: options.targetPasswordEnv }, ctx.io.env)
        : resolveSecret(repo.siteConfig.database.password, ctx.io.env);
      return [secret, ok(options.targetPasswordEnv ? `from $${options.targetPasswordEnv}` : "the site's")];
    });
    const databaseTarget = password === undefined ? undefined : { url: target, password };

    const kind = databaseTarget
      ? await check<TargetKind>('data separation', async () => {
          const verdict = await guardRestoreTarget(ctx, repo.site, databaseTarget, options);
          return [verdict, ok(TARGET_KIND[verdict])];
        })
      : undefined;
    if (!databaseTarget) skipped('data separation', 'needs the target password');

    const identities = await check('identity', async () => {
      const found = engine.siteIdentities(repo, options.identity);
      await warnReadableIdentity(ctx, repo, options.identity);
      return [found, ok(`${found.length} age identit${found.length === 1 ? 'y' : 'ies'} loaded`)];
    });

    const attachments = options.attachmentsTo
      ? await check('attachments target', async () => {
          const endpoint = await engine.openBlobTarget(
            options.attachmentsTo!,
            repo.siteConfig.attachments,
            ctx.io.env,
          );
          try {
            return [endpoint.description, ok(await endpoint.probe())];
          } finally {
            await endpoint.close();
          }
        })
      : undefined;

    const found = identities
      ? await check('backup set', async () => {
          ctx.out.info(`Verifying backup set ${id} of ${repo.site} (a dry run: nothing will be changed)…`);
          const result = await checkSet(repo, id, identities, {
            signal: ctx.signal,
            onProgress: progressLine(ctx.out),
          });
          const v = result.verification;
          return [
            result,
            ok(
              `${result.entry.id}: manifest authentic, ${v.objects} objects present with their sizes and checksums (${formatBytes(v.bytes)}), the identity decrypts the dump`,
            ),
          ];
        })
      : undefined;
    if (!identities) skipped('backup set', 'needs the age identity');

    await check('repository lock', async () => {
      const lock = await readLock(repo.state, repo.site);
      if (lock && lock.operation === 'prune' && isLive(lock)) {
        throw new OperationError(
          `A prune of ${repo.site} is running (on ${lock.host}, pid ${lock.pid}, since ${lock.acquiredAt}); a restore would refuse to start.`,
          'Wait for the prune to finish.',
        );
      }
      return [undefined, ok(lock ? `held by a ${lock.operation}, which a restore may run beside` : 'free')];
    });

    const targetFacts = databaseTarget
      ? await check('target database', async () => {
          const facts = await inspectTarget(databaseTarget);
          const unfinished = facts.targetIncomplete
            ? `holds an unfinished restore of set ${facts.targetIncomplete.set} (started ${facts.targetIncomplete.startedAt})`
            : undefined;
          if (facts.targetState === 'not-empty' && !options.replace) {
            throw new OperationError(
              `The target database ${unfinished ? `${unfinished} and ` : ''}is not empty; a restore would refuse it.`,
              'Restore into a new database, or pass --replace to drop and recreate it.',
            );
          }
          const outcome: CheckOutcome = unfinished
            ? { status: 'warn', detail: `${unfinished}; the restore replaces it` }
            : ok(`PostgreSQL ${facts.targetServerMajor}, ${STATE[facts.targetState]}`);
          return [facts, outcome];
        })
      : undefined;
    if (!databaseTarget) skipped('target database', 'needs the target password');

    let plan: RestorePlan | undefined;
    const method = targetFacts
      ? restoreMethod(targetFacts, { jobs: options.jobs, ...(tempDir ? { tempDir } : {}) })
      : undefined;
    if (found && targetFacts && method) {
      plan = {
        manifest: found.entry.manifest,
        verification: found.verification,
        warnings: found.entry.warnings,
        ...targetFacts,
      };
      for (const prerequisite of restorePrerequisites(repo, plan, method))
        await check(prerequisite.name, async () => [undefined, await prerequisite.check()]);
    } else {
      for (const name of ['pg_restore', 'psql', 'permissions', 'extensions', 'temp space', 'zstd'])
        skipped(name, 'needs the backup set and the target database');
    }

    await check('audit log', async () => {
      const path = restoreAuditPath(ctx.config());
      const problem = await folderProblem(dirname(path));
      if (problem) throw new OperationError(`The restore's audit log ${path} cannot be written: ${problem}.`);
      return [undefined, ok(`${path} can be written`)];
    });

    for (const warning of found?.entry.warnings ?? []) ctx.out.warn(warning);
    const proceeds = !checks.some((c) => c.status === 'fail');
    const manifest = found?.entry.manifest;
    const action = targetFacts ? ACTION[targetFacts.targetState] : null;
    const confirmation = repo.siteConfig.role === 'production' || targetFacts?.targetState === 'not-empty';
    const report = {
      ok: proceeds,
      dryRun: true,
      site: repo.site,
      set: manifest
        ? {
            id: manifest.id,
            snapshotAt: manifest.snapshotAt,
            database: {
              bytes: manifest.database.size,
              plainBytes: manifest.database.plainSize,
              rowCounts: manifest.database.rowCounts,
              extensions: manifest.database.extensions.map((e) => e.name),
            },
            attachments: { count: manifest.attachments.count, plainBytes: manifest.attachments.plainBytes },
          }
        : null,
      target: {
        database: target.replace(/^postgres(ql)?:\/\//, ''),
        kind: kind ?? null,
        state: targetFacts?.targetState ?? null,
        action,
        serverMajor: targetFacts?.targetServerMajor ?? null,
        method: method ? { jobs: method.jobs, inPlace: method.inPlace, viaFile: method.viaFile } : null,
      },
      attachmentsTo: attachments ?? null,
      confirmationNeeded: confirmation,
      checks,
      warnings: found?.entry.warnings ?? [],
    };
    ctx.out.result(() => renderDryRun(report), report);
    return proceeds ? 0 : 1;
  });
}

const TARGET_KIND: Record<TargetKind, string> = {
  production: "the site's own database",
  scratch: 'a new database on a production server',
  'non-production': 'outside production, allowed by --allow-non-production-target',
  'demo-own': "the demo site's own database",
};

const STATE = {
  absent: 'the database does not exist yet',
  empty: 'the database exists and is empty',
  'not-empty': 'the database holds data (--replace)',
} as const;

const ACTION = {
  absent: 'create',
  empty: 'restore-in-place',
  'not-empty': 'replace',
} as const;

const ACTION_TEXT = {
  create: 'create it and restore into it',
  'restore-in-place': 'restore into the empty database in place',
  replace: 'build a new copy beside it, then swap it in and drop what the database holds now',
} as const;

const MARK = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' } as const;

function renderDryRun(report: {
  ok: boolean;
  site: string;
  set: {
    id: string;
    snapshotAt: string;
    database: { bytes: number; plainBytes: number; rowCounts: Record<string, number> };
    attachments: { count: number; plainBytes: number };
  } | null;
  target: { database: string; action: keyof typeof ACTION_TEXT | null };
  attachmentsTo: string | null;
  confirmationNeeded: boolean;
  checks: DryRunCheck[];
}): string {
  const set = report.set;
  const lines = [
    report.ok
      ? 'Dry run: the restore would proceed. Nothing was changed.'
      : 'Dry run: the restore would NOT proceed (see FAIL below). Nothing was changed.',
    `  set          ${set ? `${set.id} of ${report.site}, snapshot ${set.snapshotAt}` : '(not resolved)'}`,
    `  target       ${report.target.database}${report.target.action ? `: ${ACTION_TEXT[report.target.action]}` : ''}`,
  ];
  if (set) {
    lines.push(
      `  database     ${formatBytes(set.database.bytes)} encrypted, ${formatBytes(set.database.plainBytes)} to restore (${set.database.rowCounts.cases ?? 0} cases)`,
      `  attachments  ${set.attachments.count} (${formatBytes(set.attachments.plainBytes)}) ${report.attachmentsTo ? `into ${report.attachmentsTo}` : 'not restored (no --attachments-to)'}`,
    );
  }
  if (report.confirmationNeeded)
    lines.push('  confirmation the restore asks for the site name (or --yes --confirm)');
  lines.push('Checks:');
  for (const c of report.checks) {
    lines.push(`  ${MARK[c.status]}  ${c.name}: ${c.detail}`);
    if (c.hint && c.status === 'fail') lines.push(`        hint: ${c.hint}`);
  }
  return lines.join('\n');
}
