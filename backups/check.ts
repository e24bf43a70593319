import { readCatalog } from './catalog.js';
import { type RepositoryState, readRepositoryState } from './repository-marker.js';
import type { SiteRepository } from './site-repository.js';
import { type VerifyReport, verifySet } from './verify.js';

export interface CheckReport {
  ok: boolean;
  sets: VerifyReport[];
  untrusted: Array<{ id: string; problem: string }>;
  incomplete: string[];
  warnings: string[];
  /** The repository marker: 'foreign' (initialised under a key we do not hold) fails the check. */
  marker: RepositoryState['status'];
}

/**
 * Verifies every complete set of the repository (as `restic check` does for its snapshots); `deep` also
 * decrypts. Untrusted manifests count as failures: they are either tampered with or sealed with a key we
 * were not given.
 */
export async function checkRepository(
  repo: SiteRepository,
  options: { deep?: boolean; identities?: string[]; signal?: AbortSignal } = {},
): Promise<CheckReport> {
  const catalog = await readCatalog(repo.store, repo.site, repo.macKeys, repo.state);
  const sets: VerifyReport[] = [];
  for (const entry of catalog.complete) {
    options.signal?.throwIfAborted();
    sets.push(
      await verifySet(repo, entry.id, {
        deep: options.deep === true,
        ...(options.identities ? { identities: options.identities } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    );
  }
  const untrusted = catalog.invalid.map((entry) => ({ id: entry.id, problem: entry.problem ?? 'untrusted' }));
  const { status: marker } = await readRepositoryState(repo);
  return {
    ok: sets.every((set) => set.ok) && untrusted.length === 0 && marker !== 'foreign',
    marker,
    sets,
    untrusted,
    incomplete: catalog.incomplete.map((entry) => entry.id),
    warnings: catalog.warnings,
  };
}
