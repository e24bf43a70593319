import { chmod, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { SiteRepository } from '../../backups/index.js';
import { UsageError } from '../../core/errors.js';
import { confirmBySiteName } from '../confirm.js';
import type { CommandContext } from '../context.js';
import { formatBytes, table } from '../output.js';
import { progressLine } from '../progress.js';
import type { Registrar } from '../registrar.js';
import { withSiteRepository } from '../site-repository.js';

// The backup engine is imported inside each action: --help must not load cloud SDKs.
const engine = () => import('../../backups/index.js');

export function positiveInt(name: string) {
  return (value: string) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1)
      throw new UsageError(`${name} must be a whole number of 1 or more.`);
    return parsed;
  };
}

export function registerBackup(program: Command, registrar: Registrar): void {
  const backup = program
    .command('backup')
    .description('Encrypted, verifiable, incremental backups of a site');

  backup
    .command('create')
    .description('back up the database and new attachments into the repository')
    .option('-s, --site <name>', 'the site to back up (default: the only site with backups)')
    .option(
      '--concurrency <n>',
      'parallel attachment uploads (default: backups.concurrency)',
      positiveInt('--concurrency'),
    )
    .option(
      '--fresh',
      'reuse no stored attachment: upload all again (after an integrity key was exposed or lost)',
    )
    .option('--init', 'initialise the repository if it is new (as `tier4 backup init`); never on a schedule')
    .action(
      registrar.action(
        async (ctx, options: { site?: string; concurrency?: number; fresh?: boolean; init?: boolean }) => {
          const { createBackup, siteDatabase } = await engine();
          return withSiteRepository(ctx, options.site, async (repo) => {
            const { recipientProblem } = await engine();
            const problem = await recipientProblem(repo.site, repo.backups, ctx.io.env);
            if (problem) throw new UsageError(`No backup was taken: ${problem}.`);
            const database = siteDatabase(repo);
            ctx.out.info(`Backing up ${repo.site} into ${repo.store.location}`);
            const { manifest, problems, damaged, initialised } = await createBackup(repo, database, {
              signal: ctx.signal,
              onProgress: progressLine(ctx.out),
              ...(options.concurrency ? { concurrency: options.concurrency } : {}),
              fresh: options.fresh === true,
              init: options.init === true,
            });
            if (initialised !== 'already')
              ctx.out.info(`${repo.store.location}: ${initMessage(initialised, 0)}.`);
            const a = manifest.attachments;
            const { notPrimeroReason } = await import('../../core/primero/tables.js');
            const notPrimero = notPrimeroReason(manifest.database.rowCounts);
            const notPrimeroWarning = notPrimero
              ? `The database does not look like Primero's (${notPrimero}): check database.url of ${repo.site}.`
              : undefined;
            if (notPrimeroWarning) ctx.out.warn(notPrimeroWarning);
            ctx.out.result(
              () =>
                [
                  `Backup set ${manifest.id} of ${repo.site} is complete.`,
                  `  database     ${formatBytes(manifest.database.size)} encrypted (${manifest.database.rowCounts.cases ?? 0} cases), ${manifest.timings.databaseSeconds}s`,
                  `  attachments  ${a.count} (${a.uploaded} new, ${formatBytes(a.uploadedBytes)} uploaded; ${a.reused} already stored), ${manifest.timings.attachmentsSeconds}s`,
                  `  total        ${manifest.timings.totalSeconds}s`,
                  ...(problems.length > 0
                    ? [
                        `  problems     ${problems.length} attachment(s) missing or damaged in storage: see --json`,
                        ...unsafeBlobLines(problems),
                      ]
                    : []),
                  ...(damaged.length > 0
                    ? [
                        `  damaged      ${damaged.length} stored attachment(s) no longer match what earlier sets recorded; stored again for this set:`,
                        ...damaged.map((d) => `                 ${d.object}: ${d.problem}`),
                      ]
                    : []),
                ].join('\n'),
              {
                ok: problems.length === 0 && damaged.length === 0,
                id: manifest.id,
                site: repo.site,
                snapshotAt: manifest.snapshotAt,
                database: {
                  bytes: manifest.database.size,
                  plainBytes: manifest.database.plainSize,
                  rowCounts: manifest.database.rowCounts,
                },
                attachments: {
                  count: a.count,
                  uploaded: a.uploaded,
                  uploadedBytes: a.uploadedBytes,
                  reused: a.reused,
                  storedBytes: a.storedBytes,
                },
                problems,
                damagedInRepository: damaged,
                timings: manifest.timings,
                warnings: notPrimeroWarning ? [notPrimeroWarning] : [],
              },
            );
            if (problems.length > 0) {
              ctx.out.warn(
                `${problems.length} attachment(s) could not be backed up intact; the set records which.`,
              );
              return 1;
            }
            if (damaged.length > 0) {
              ctx.out.warn(
                `${damaged.length} stored attachment(s) are damaged: sets made before this one that use them fail verification. Verify the older sets (\`tier4 backup verify ID --site ${repo.site}\`) and look after the storage.`,
              );
              return 1;
            }
            return 0;
          });
        },
      ),
    );

  backup
    .command('init')
    .description(
      'initialise a new repository (or adopt one written before markers, if its sets verify); once, by hand',
    )
    .option('-s, --site <name>', 'the site (default: the only site with backups)')
    .option(
      '--new-integrity-key',
      'the key the repository was initialised under is lost for good: initialise it under the configured one (its sets stay untrusted)',
    )
    .action(
      registrar.action(async (ctx, options: { site?: string; newIntegrityKey?: boolean }) => {
        const { readCatalog } = await engine();
        const { initRepository } = await import('../../backups/index.js');
        return withSiteRepository(ctx, options.site, async (repo) => {
          const catalog = await readCatalog(repo.store, repo.site, repo.macKeys, repo.state);
          const { outcome, marker } = await initRepository(repo, catalog, {
            newIntegrityKey: options.newIntegrityKey === true,
          });
          ctx.out.result(
            `${repo.store.location}: ${initMessage(outcome, catalog.complete.length)} (repository ${marker.repository}, created ${marker.createdAt}).`,
            { site: repo.site, repository: repo.store.location, outcome, marker },
          );
          return 0;
        });
      }),
    );

  backup
    .command('list')
    .description('list complete backup sets: id, time, size, counts, last verified')
    .option('-s, --site <name>', 'the site (default: the only site with backups)')
    .action(
      registrar.action(async (ctx, options: { site?: string }) => {
        const { listSets } = await engine();
        return withSiteRepository(ctx, options.site, async (repo) => {
          const listing = await listSets(repo);
          for (const warning of listing.warnings) ctx.out.warn(warning);
          ctx.out.result(
            () => {
              // A wrong integrity key must not look like an empty repository.
              if (listing.sets.length === 0 && listing.untrusted.length === 0 && listing.marker === 'foreign')
                return `${repo.store.location} was initialised under a different integrity key: check backups.integrityKey (after a rotation, list the old key under backups.previousIntegrityKeys) and backups.repository.`;
              if (listing.sets.length === 0 && listing.untrusted.length > 0)
                return `${listing.untrusted.length} set(s) present in ${repo.store.location} but none trusted: check backups.integrityKey (after a rotation, list the old key under backups.previousIntegrityKeys).`;
              if (listing.sets.length === 0 && listing.marker === 'uninitialised')
                return `${repo.store.location} is not a backup repository yet (no repository marker): check backups.repository; a new repository is initialised with \`tier4 backup init --site ${repo.site}\`.`;
              if (listing.sets.length === 0)
                return `No complete backup sets for ${repo.site} in ${repo.store.location}.`;
              const rows = listing.sets.map((set) => [
                set.id,
                set.snapshotAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
                formatBytes(set.totalBytes),
                set.rowCounts.cases ?? 0,
                set.attachments,
                set.lastVerified
                  ? `${set.lastVerified.ok ? 'ok' : 'FAILED'} ${set.lastVerified.at.slice(0, 10)}${set.lastVerified.deep ? ' (deep)' : ''}`
                  : 'never',
                set.problems > 0 ? `${set.problems} attachment(s) missing or damaged` : '-',
              ]);
              const lines = [
                table(['id', 'snapshot', 'size', 'cases', 'attachments', 'verified', 'problems'], rows),
              ];
              if (listing.untrusted.length > 0)
                lines.push(
                  '',
                  `UNTRUSTED (manifest fails its MAC): ${listing.untrusted.map((u) => u.id).join(', ')}`,
                );
              return lines.join('\n');
            },
            { site: repo.site, repository: repo.store.location, ...listing },
          );
          return listing.untrusted.length > 0 || listing.marker === 'foreign' ? 1 : 0;
        });
      }),
    );

  backup
    .command('verify')
    .description('check every object of a set against its checksum; --deep also decrypts and reads the dump')
    .argument('<id>', 'backup set id, or "latest"')
    .option('-s, --site <name>', 'the site (default: the only site with backups)')
    .option('--deep', 'decrypt the dump and read its table of contents; decrypt every attachment')
    .option('--identity <file>', 'age identity file (default: backups.encryption.identity)')
    .action(
      registrar.action(
        async (ctx, id: string, options: { site?: string; deep?: boolean; identity?: string }) => {
          const { verifySet, siteIdentities } = await engine();
          return withSiteRepository(ctx, options.site, async (repo) => {
            const identities = options.deep ? siteIdentities(repo, options.identity) : undefined;
            if (identities) await warnReadableIdentity(ctx, repo, options.identity);
            const report = await verifySet(repo, id, {
              deep: options.deep === true,
              ...(identities ? { identities } : {}),
              signal: ctx.signal,
              onProgress: progressLine(ctx.out),
            });
            ctx.out.result(
              () =>
                report.ok
                  ? `Backup set ${report.id} verified${report.deep ? ' deeply' : ''}: ${report.objects} objects, ${formatBytes(report.bytes)}${report.toc ? `, ${report.toc.tableData} tables in the dump` : ''}.`
                  : [
                      `Backup set ${report.id} FAILED verification:`,
                      ...report.failures.map((f) => `  ${f.object}: ${f.problem}`),
                    ].join('\n'),
              report,
            );
            return report.ok ? 0 : 1;
          });
        },
      ),
    );

  backup
    .command('check')
    .description('verify every backup set of the repository (like restic check); --deep also decrypts')
    .option('-s, --site <name>', 'the site (default: the only site with backups)')
    .option('--deep', 'decrypt every dump and attachment too (needs the age identity)')
    .option('--identity <file>', 'age identity file (default: backups.encryption.identity)')
    .action(
      registrar.action(async (ctx, options: { site?: string; deep?: boolean; identity?: string }) => {
        const { checkRepository, siteIdentities } = await engine();
        return withSiteRepository(ctx, options.site, async (repo) => {
          const identities = options.deep ? siteIdentities(repo, options.identity) : undefined;
          const report = await checkRepository(repo, {
            deep: options.deep === true,
            ...(identities ? { identities } : {}),
            signal: ctx.signal,
          });
          for (const warning of report.warnings) ctx.out.warn(warning);
          ctx.out.result(
            () =>
              [
                `${repo.site}: ${report.sets.filter((set) => set.ok).length} of ${report.sets.length} set(s) verified${options.deep ? ' deeply' : ''}${report.ok ? '.' : '; PROBLEMS:'}`,
                ...report.sets
                  .filter((set) => !set.ok)
                  .flatMap((set) => [
                    `  ${set.id} FAILED`,
                    ...set.failures.map((f) => `    ${f.object}: ${f.problem}`),
                  ]),
                ...report.untrusted.map((u) => `  ${u.id} UNTRUSTED: ${u.problem}`),
                ...(report.marker === 'foreign'
                  ? [
                      '  the repository was initialised under a different integrity key: check backups.integrityKey / previousIntegrityKeys',
                    ]
                  : report.marker === 'uninitialised'
                    ? [`  not initialised (no repository marker): \`tier4 backup init --site ${repo.site}\``]
                    : []),
                ...(report.incomplete.length
                  ? [`  incomplete (no manifest; prune removes them): ${report.incomplete.join(', ')}`]
                  : []),
              ].join('\n'),
            { site: repo.site, repository: repo.store.location, ...report },
          );
          return report.ok ? 0 : 1;
        });
      }),
    );

  backup
    .command('unlock')
    .description('remove a stale repository lock left by a backup or prune that died (asks first)')
    .option('-s, --site <name>', 'the site (default: the only site with backups)')
    .option('--force', 'also remove a lock that has not expired yet (only when you know its holder is gone)')
    .option('-y, --yes', 'do not ask; needs --confirm <site>')
    .option('--confirm <site>', 'the site name, to confirm non-interactively')
    .action(
      registrar.action(
        async (ctx, options: { site?: string; force?: boolean; yes?: boolean; confirm?: string }) => {
          const { readLock, isLive, removeLock } = await import('../../backups/index.js');
          return withSiteRepository(ctx, options.site, async (repo) => {
            const lock = await readLock(repo.state, repo.site);
            if (!lock) {
              ctx.out.result(`${repo.site} is not locked.`, { site: repo.site, removed: false });
              return 0;
            }
            const holder = `a ${lock.operation} on ${lock.host} (pid ${lock.pid}) since ${lock.acquiredAt}`;
            if (isLive(lock) && !options.force) {
              throw new UsageError(
                `${repo.site} is locked by ${holder}, and the lock has not expired (${lock.expiresAt}); nothing was removed.`,
                'Wait for it to finish or expire. Only if you know that process is gone, pass --force.',
              );
            }
            await confirmBySiteName(ctx, repo.site, `This removes the lock held by ${holder}`, {
              ...options,
              command: `tier4 backup unlock --site ${repo.site}${options.force ? ' --force' : ''}`,
            });
            await removeLock(repo.state, repo.site);
            ctx.out.result(`Removed the lock of ${repo.site} (${holder}).`, {
              site: repo.site,
              removed: true,
              lock,
            });
            return 0;
          });
        },
      ),
    );

  backup
    .command('prune')
    .description('apply retention, remove incomplete sets, then sweep unreferenced attachments')
    .option('-s, --site <name>', 'the site (default: the only site with backups)')
    .option('--dry-run', 'show what would be removed, remove nothing')
    .action(
      registrar.action(async (ctx, options: { site?: string; dryRun?: boolean }) => {
        const { pruneRepository } = await engine();
        return withSiteRepository(ctx, options.site, async (repo) => {
          const report = await pruneRepository(repo, { dryRun: options.dryRun === true });
          for (const warning of report.warnings) ctx.out.warn(warning);
          const verb = report.dryRun ? 'would remove' : 'removed';
          ctx.out.result(
            () =>
              [
                `${repo.site}: keeping ${report.kept.length} set(s); ${verb} ${report.removed.length} set(s), ${report.incompleteRemoved.length} incomplete set(s), ${report.blobsRemoved} unreferenced attachment(s) (${formatBytes(report.blobBytesRemoved)}).`,
                ...report.kept.map((k) => `  keep    ${k.id}  (${k.reasons.join(', ')})`),
                ...report.removed.map((id) => `  ${report.dryRun ? 'remove' : 'removed'}  ${id}`),
                ...(report.untrusted.length
                  ? [
                      `  untrusted sets left in place for inspection: ${report.untrusted.join(', ')}`,
                      `  ${report.blobsKeptForUntrusted} attachment(s) they name were kept`,
                    ]
                  : []),
                ...(report.blobSweepSkipped
                  ? [`  no attachment was removed: ${report.blobSweepSkipped}`]
                  : []),
                ...(report.protected.length
                  ? [
                      `  ${report.protected.length} object(s) still protected by the storage's immutability policy: removed by a later prune`,
                    ]
                  : []),
                ...(report.temporaryRemoved
                  ? [`  removed ${report.temporaryRemoved} temporary file(s) left by interrupted backups`]
                  : []),
                ...report.errors.map((e) => `  could not remove ${e.object}: ${e.error}`),
              ].join('\n'),
            report,
          );
          return report.errors.length > 0 ? 1 : 0;
        });
      }),
    );

  backup
    .command('keygen')
    .description('create an age identity for backups; prints its public key (the recipient) for tier4.yaml')
    .requiredOption('--out <file>', 'where to write the private identity (mode 0600); keep it offline')
    .option('--force', 'overwrite an existing file')
    .action(
      registrar.action(async (ctx, options: { out: string; force?: boolean }) => {
        const { generateIdentity } = await import('../../backups/index.js');
        const { identity, recipient } = await generateIdentity();
        const path = resolve(ctx.io.cwd, options.out);
        try {
          await writeFile(
            path,
            `# created by tier4 backup keygen: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`,
            {
              mode: 0o600,
              flag: options.force ? 'w' : 'wx',
            },
          );
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
            throw new UsageError(
              `${path} already exists; nothing was written.`,
              'Pass --force to overwrite it (the old identity is then lost).',
            );
          }
          throw error;
        }
        await chmod(path, 0o600);
        ctx.out.result(
          `Wrote the identity to ${path} (mode 0600). Add this recipient to backups.encryption.recipients:\n${recipient}`,
          { identityFile: path, recipient },
        );
      }),
    );
}

/** Says so when the age identity file can be read by others than its owner. */
export async function warnReadableIdentity(
  ctx: CommandContext,
  repo: SiteRepository,
  override: string | undefined,
): Promise<void> {
  // Restore, drill and backup verify load the engine anyway.
  const { identityFileWarning } = await engine();
  const warning = identityFileWarning(repo, override);
  if (warning) ctx.out.warn(warning);
}

/** What `backup init` (or a backup) did to the repository marker, in words. */
function initMessage(outcome: import('../../backups/index.js').InitOutcome, sets: number): string {
  switch (outcome) {
    case 'already':
      return 'already initialised under the configured integrity key; nothing to do';
    case 'created':
      return 'initialised as a new backup repository';
    case 'adopted':
      return `adopted: written before repository markers, ${sets > 0 ? `${sets} set(s) verify` : 'its sets verify'} under the configured keys; marker written`;
    case 'resealed':
      return 'initialised under a previous integrity key; a marker under the current key was added';
    case 'rekeyed':
      return 'initialised again under the configured integrity key (the earlier key is lost); sets sealed with it stay untrusted';
  }
}

/** Blobs never read because their key or path is unsafe, named by their active_storage_blobs id. */
function unsafeBlobLines(problems: Array<{ problem: string; blobId?: string | undefined }>): string[] {
  const ids = problems.filter((p) => p.problem.startsWith('unsafe-')).map((p) => p.blobId ?? '?');
  return ids.length > 0
    ? [`  refused      active_storage_blobs id ${ids.join(', ')}: unsafe key or path, not read`]
    : [];
}
