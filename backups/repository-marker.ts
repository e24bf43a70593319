import { createHmac, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { OperationError } from '../core/errors.js';
import { toolVersion } from '../core/package-info.js';
import type { Catalog } from './catalog.js';
import { macMatches, macOf } from './crypto/mac.js';
import { layout } from './layout.js';
import type { SiteRepository } from './site-repository.js';

/**
 * The repository marker (docs/decisions/0008-backup-sets.md): one small object per integrity key,
 * `<site>/repository/<fingerprint>.json`, written once with createExclusive (so immutable storage takes it)
 * and sealed with the key's MAC. It tells three repositories apart that otherwise all look empty:
 * a new one (no marker), ours (a marker that verifies), and one initialised under another integrity key.
 */
const bodySchema = z.object({
  format: z.literal('tier4-repository/1'),
  /** Random, the same in every marker of one repository. */
  repository: z.string().regex(/^[0-9a-f]{16}$/),
  site: z.string(),
  /** When the repository was initialised. */
  createdAt: z.string(),
  /** When this marker was sealed (later than createdAt for a marker added under a new key). */
  sealedAt: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
});

export type MarkerBody = z.infer<typeof bodySchema>;

export type RepositoryState =
  | { status: 'initialised'; marker: MarkerBody; underCurrentKey: boolean }
  | { status: 'uninitialised' }
  /** Markers exist, none verifies under the configured keys: a wrong key, or someone else's repository. */
  | { status: 'foreign'; markers: number };

/** A marker's object name: a fingerprint of the key (an HMAC of a constant reveals nothing of the key). */
function markerKey(site: string, macKey: Buffer): string {
  const fingerprint = createHmac('sha256', macKey).update('tier4-repository-marker').digest('hex');
  return `${layout.markersPrefix(site)}${fingerprint.slice(0, 24)}.json`;
}

function openMarker(
  bytes: Buffer,
  macKeys: readonly Buffer[],
  site: string,
): { body: MarkerBody; key: number } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const result = bodySchema.extend({ mac: z.string() }).safeParse(parsed);
  if (!result.success) return undefined;
  const { mac, ...body } = result.data;
  const key = macKeys.findIndex((macKey) => macMatches(macKey, body, mac));
  return key >= 0 && body.site === site ? { body, key } : undefined;
}

/** Whether the repository was initialised, and under which of the configured keys. */
export async function readRepositoryState(repo: SiteRepository): Promise<RepositoryState> {
  let markers = 0;
  let found: { body: MarkerBody; key: number } | undefined;
  for await (const object of repo.store.list(layout.markersPrefix(repo.site))) {
    if (!object.key.endsWith('.json') || object.symlink) continue;
    markers += 1;
    const bytes = await repo.store.getBytes(object.key);
    const opened = bytes ? openMarker(bytes, repo.macKeys, repo.site) : undefined;
    if (opened && (!found || opened.key < found.key)) found = opened;
  }
  if (found) return { status: 'initialised', marker: found.body, underCurrentKey: found.key === 0 };
  return markers > 0 ? { status: 'foreign', markers } : { status: 'uninitialised' };
}

async function writeMarker(repo: SiteRepository, from?: MarkerBody): Promise<MarkerBody> {
  const now = new Date().toISOString();
  const body: MarkerBody = {
    format: 'tier4-repository/1',
    repository: from?.repository ?? randomBytes(8).toString('hex'),
    site: repo.site,
    createdAt: from?.createdAt ?? now,
    sealedAt: now,
    tool: { name: 'primero-tier4', version: toolVersion() },
  };
  const text = `${JSON.stringify({ ...body, mac: macOf(repo.macKey, body) }, null, 2)}\n`;
  // Exists already: written under this same key (by a backup running at the same time); nothing to do.
  await repo.store.createExclusive(markerKey(repo.site, repo.macKey), text);
  return body;
}

export type InitOutcome =
  /** Initialised already, under the current key. */
  | 'already'
  /** A new, empty repository. */
  | 'created'
  /** Sets written before markers existed, that verify under the configured keys. */
  | 'adopted'
  /** Initialised under a previous key (backups.previousIntegrityKeys): a marker under the current one added. */
  | 'resealed'
  /** --new-integrity-key: a marker under the current key beside markers or sets no configured key verifies. */
  | 'rekeyed';

export function initCommand(site: string): string {
  return `tier4 backup init --site ${site}`;
}

/** The message for a repository whose markers no configured key verifies. */
export function foreignRepositoryError(repo: SiteRepository, what: string): OperationError {
  return new OperationError(
    `The backup repository ${repo.store.location} of ${repo.site} was initialised under a different integrity key; ${what}.`,
    `Check backups.integrityKey in tier4.yaml (after a rotation, list the old key under backups.previousIntegrityKeys), and that backups.repository is this site's. Only if the old key is lost for good: \`${initCommand(repo.site)} --new-integrity-key\`, then \`tier4 backup create --site ${repo.site} --fresh\`.`,
  );
}

/**
 * Initialises the repository, or adopts one written before markers existed when at least one of its sets
 * verifies under the configured keys (proof that the path and the key are right); sets without any that
 * verifies are refused, since a wrong key would otherwise be sealed in. `newIntegrityKey` is the way on
 * when the key the repository was initialised under is lost for good.
 */
export async function initRepository(
  repo: SiteRepository,
  catalog: Pick<Catalog, 'complete' | 'invalid'>,
  options: { newIntegrityKey?: boolean } = {},
): Promise<{ outcome: InitOutcome; marker: MarkerBody }> {
  const state = await readRepositoryState(repo);
  if (state.status === 'initialised') {
    if (state.underCurrentKey) return { outcome: 'already', marker: state.marker };
    return { outcome: 'resealed', marker: await writeMarker(repo, state.marker) };
  }
  const untrustedOnly = catalog.complete.length === 0 && catalog.invalid.length > 0;
  if (state.status === 'foreign' || untrustedOnly) {
    if (options.newIntegrityKey) return { outcome: 'rekeyed', marker: await writeMarker(repo) };
    if (state.status === 'foreign') throw foreignRepositoryError(repo, 'nothing was changed');
    throw new OperationError(
      `${repo.store.location} holds ${catalog.invalid.length} backup set(s) of ${repo.site}, none of which verifies under the configured integrity key: it was not initialised.`,
      `Check backups.integrityKey (after a rotation, list the old key under backups.previousIntegrityKeys) and backups.repository. Only if the key is lost for good: \`${initCommand(repo.site)} --new-integrity-key\`.`,
    );
  }
  const marker = await writeMarker(repo);
  return { outcome: catalog.complete.length > 0 ? 'adopted' : 'created', marker };
}

function notInitialisedError(repo: SiteRepository): OperationError {
  return new OperationError(
    `The backup repository ${repo.store.location} of ${repo.site} is not initialised (it has no repository marker): no backup was taken.`,
    `If backups.repository is right and this is a new repository: \`${initCommand(repo.site)}\` (once), or pass --init. If it should already hold backups, correct backups.repository in tier4.yaml.`,
  );
}

/**
 * Before a backup touches anything (not even its lock, which would create the folders of a mistyped
 * file:// path): refuses a repository initialised under another key, and a new one unless `init`.
 */
export async function assertMayBackUp(repo: SiteRepository, options: { init?: boolean } = {}): Promise<void> {
  const state = await readRepositoryState(repo);
  if (state.status === 'foreign') throw foreignRepositoryError(repo, 'no backup was taken');
  if (state.status === 'initialised' || options.init) return;
  for await (const _ of repo.store.list(layout.setsPrefix(repo.site))) return; // written before markers
  throw notInitialisedError(repo);
}

/**
 * Under the backup's lock, with its catalog: initialised under a previous key, a marker under the current one
 * is added (so the old key can later be dropped); written before markers with sets that verify: adopted;
 * new: initialised (assertMayBackUp let it through only with `init`). Sets from before markers of which none
 * verifies are left to the caller's check (no set trusted), unless `fresh`, the documented way on after the
 * key was lost.
 */
export async function ensureInitialised(
  repo: SiteRepository,
  catalog: Catalog,
  options: { init?: boolean; fresh?: boolean } = {},
): Promise<InitOutcome> {
  const state = await readRepositoryState(repo);
  if (state.status === 'foreign') throw foreignRepositoryError(repo, 'no backup was taken');
  if (state.status === 'uninitialised' && catalog.complete.length === 0) {
    if (catalog.invalid.length > 0)
      return options.fresh
        ? (await initRepository(repo, catalog, { newIntegrityKey: true })).outcome
        : 'already';
    if (!options.init) throw notInitialisedError(repo);
  }
  return (await initRepository(repo, catalog)).outcome;
}
