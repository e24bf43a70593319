import { readCatalog } from './catalog.js';
import { type RepositoryState, readRepositoryState } from './repository-marker.js';
import type { SiteRepository } from './site-repository.js';

export interface SetSummary {
  id: string;
  snapshotAt: string;
  totalBytes: number;
  databaseBytes: number;
  attachments: number;
  attachmentBytes: number;
  rowCounts: Record<string, number>;
  primeroVersion: string | null;
  problems: number;
  lastVerified: { at: string; deep: boolean; ok: boolean } | null;
}

export async function listSets(repo: SiteRepository): Promise<{
  sets: SetSummary[];
  incomplete: string[];
  untrusted: Array<{ id: string; problem: string }>;
  warnings: string[];
  /** Whether the repository was initialised (repository-marker.ts), and under a key we hold. */
  marker: RepositoryState['status'];
}> {
  const catalog = await readCatalog(repo.store, repo.site, repo.macKeys, repo.state);
  const { status } = await readRepositoryState(repo);
  return {
    marker: status,
    sets: catalog.complete.map((entry) => {
      const m = entry.manifest!;
      return {
        id: m.id,
        snapshotAt: m.snapshotAt,
        totalBytes: m.database.size + m.attachments.storedBytes,
        databaseBytes: m.database.size,
        attachments: m.attachments.count,
        attachmentBytes: m.attachments.storedBytes,
        rowCounts: m.database.rowCounts,
        primeroVersion: m.database.primeroVersion,
        problems: m.attachments.problems.length,
        lastVerified: entry.lastVerified ?? null,
      };
    }),
    incomplete: catalog.incomplete.map((entry) => entry.id),
    untrusted: catalog.invalid.map((entry) => ({ id: entry.id, problem: entry.problem ?? 'unknown' })),
    warnings: catalog.warnings,
  };
}
