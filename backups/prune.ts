import { errorMessage, OperationError } from '../core/errors.js';
import { readCatalog } from './catalog.js';
import { layout } from './layout.js';
import { acquireLock, assertNoRestoreRunning, isImmutable } from './lock.js';
import { type RetentionPolicy, selectRetained } from './retention.js';
import type { SiteRepository } from './site-repository.js';

export interface PruneReport {
  dryRun: boolean;
  kept: Array<{ id: string; reasons: string[] }>;
  removed: string[];
  incompleteRemoved: string[];
  /** Sets whose manifest fails its MAC: never removed automatically; they may be evidence. */
  untrusted: string[];
  /** Attachments kept only because an untrusted set names them. */
  blobsKeptForUntrusted: number;
  /** Why no attachment was swept at all, when an untrusted manifest is too damaged to say what it names. */
  blobSweepSkipped?: string;
  blobsRemoved: number;
  blobBytesRemoved: number;
  errors: Array<{ object: string; error: string }>;
  /** Objects an immutability policy still protects (WORM storage): the next prune after it lapses removes them. */
  protected: string[];
  /** Leftovers of interrupted writes (a file:// repository's `.tmp-*` files) removed. */
  temporaryRemoved: number;
  /** What was read and ignored (e.g. a verification record that fails its MAC). */
  warnings: string[];
}

/**
 * Applies retention, removes incomplete sets, then sweeps blobs that no kept set references. Holds the
 * repository lock throughout, so no backup can be adding a set or blobs meanwhile.
 */
export async function pruneRepository(
  repo: SiteRepository,
  options: { dryRun?: boolean; policy?: RetentionPolicy } = {},
): Promise<PruneReport> {
  const dryRun = options.dryRun === true;
  const lock = dryRun ? undefined : await acquireLock(repo.state, repo.site, 'prune');
  if (lock) await assertNoRestoreRunning(repo.state, repo.site, lock);
  try {
    const catalog = await readCatalog(repo.store, repo.site, repo.macKeys, repo.state);
    if (catalog.complete.length === 0 && catalog.invalid.length > 0) {
      // Under a wrong or rotated key every set looks untrusted and every attachment unreferenced.
      throw new OperationError(
        `None of the ${catalog.invalid.length} backup set(s) of ${repo.site} can be trusted with the configured integrity key; nothing was pruned.`,
        'Check backups.integrityKey; after a key rotation, list the old key under backups.previousIntegrityKeys.',
      );
    }
    const decision = selectRetained(
      catalog.complete.map((entry) => ({
        id: entry.id,
        time: entry.time,
        verified: entry.lastVerified?.ok === true,
        failed: entry.lastVerified?.ok === false,
      })),
      options.policy ?? repo.backups.retention,
    );
    const report: PruneReport = {
      dryRun,
      kept: [...decision.keep]
        .map(([id, reasons]) => ({ id, reasons }))
        .sort((a, b) => (a.id < b.id ? 1 : -1)),
      removed: decision.remove,
      incompleteRemoved: catalog.incomplete.map((entry) => entry.id),
      untrusted: catalog.invalid.map((entry) => entry.id),
      blobsKeptForUntrusted: 0,
      blobsRemoved: 0,
      blobBytesRemoved: 0,
      errors: [],
      protected: [],
      temporaryRemoved: 0,
      warnings: catalog.warnings,
    };
    const referenced = new Set<string>();
    for (const entry of catalog.complete) {
      if (decision.keep.has(entry.id))
        for (const blob of entry.manifest!.attachments.blobs) referenced.add(blob.object);
    }
    // Untrusted sets may be evidence, or sealed with a key we were not given: nothing they name is removed.
    const heldForUntrusted = new Set<string>();
    for (const entry of catalog.invalid) {
      if (!entry.references) report.blobSweepSkipped ??= `the manifest of ${entry.id} cannot be read`;
      for (const object of entry.references ?? []) if (!referenced.has(object)) heldForUntrusted.add(object);
    }
    const unreferenced: Array<{ key: string; size: number }> = [];
    for await (const object of repo.store.list(layout.blobsPrefix(repo.site))) {
      if (heldForUntrusted.has(object.key)) report.blobsKeptForUntrusted += 1;
      else if (!referenced.has(object.key) && !report.blobSweepSkipped) unreferenced.push(object);
    }
    report.blobsRemoved = unreferenced.length;
    report.blobBytesRemoved = unreferenced.reduce((sum, object) => sum + object.size, 0);
    if (dryRun) return report;

    const remove = async (key: string, store = repo.store): Promise<boolean> => {
      try {
        await store.delete(key);
        return true;
      } catch (error) {
        // A time-based immutability policy still protects it: expected, and the next prune tries again.
        if (isImmutable(error)) report.protected.push(key);
        else report.errors.push({ object: key, error: errorMessage(error) });
        return false;
      }
    };
    const doomed = new Set(decision.remove);
    for (const entry of [...catalog.complete.filter((e) => doomed.has(e.id)), ...catalog.incomplete]) {
      // The manifest goes first: from then on the set no longer exists, even if the rest fails; if it cannot
      // go, the set stays whole.
      const manifest = layout.manifest(repo.site, entry.id);
      if (entry.objects.includes(manifest) && !(await remove(manifest))) continue;
      for (const key of entry.objects) if (key !== manifest) await remove(key);
      if (repo.state !== repo.store)
        for await (const record of repo.state.list(layout.setPrefix(repo.site, entry.id)))
          await remove(record.key, repo.state);
    }
    for (const object of unreferenced) await remove(object.key);
    // Under the lock no backup is writing: a temporary file an hour old belongs to one that was killed.
    report.temporaryRemoved = (await repo.store.sweepTemporary?.(60 * 60_000)) ?? 0;
    return report;
  } finally {
    await lock?.release();
  }
}
