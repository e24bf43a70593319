import { statSync } from 'node:fs';
import type { LoadedConfig } from '../core/config/load.js';
import { getSite } from '../core/config/load.js';
import { parseIdentities, recipientProblem } from '../core/config/recipients.js';
import type { BackupsConfig, SiteConfig } from '../core/config/schema.js';
import { UsageError } from '../core/errors.js';
import type { DatabaseTarget } from '../core/postgres/connection.js';
import { resolveSecret } from '../core/secrets.js';
import { deriveMacKey } from './crypto/mac.js';
import { openRepositoryStore } from './store/open-store.js';
import type { ObjectStore } from './store/types.js';

/** A site's backup repository, opened: the store, the MAC key, the recipients. */
export interface SiteRepository {
  site: string;
  siteConfig: SiteConfig;
  backups: BackupsConfig;
  store: ObjectStore;
  /**
   * Where mutable state lives (the lock, verification records): backups.stateRepository, or the repository
   * itself. Immutable (WORM) storage refuses the rewrites and deletes this state needs.
   */
  state: ObjectStore;
  /** Seals new manifests and drill summaries. */
  macKey: Buffer;
  /** Every key a stored manifest may be sealed with: the current one first, then previous ones. */
  macKeys: Buffer[];
  recipients: string[];
  env: NodeJS.ProcessEnv;
}

export function backupsOf(siteName: string, site: SiteConfig): BackupsConfig {
  if (!site.backups) {
    throw new UsageError(
      `Site ${siteName} has no backups configured.`,
      `Add sites.${siteName}.backups to tier4.yaml.`,
    );
  }
  return site.backups;
}

/** Resolves every secret the operation needs before anything is touched, then opens the store. */
export async function openSiteRepository(
  loaded: LoadedConfig,
  siteName: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  options: { onWaiting?: (message: string) => void } = {},
): Promise<SiteRepository> {
  const { name, site } = getSite(loaded.config, siteName);
  const backups = backupsOf(name, site);
  const macKey = deriveMacKey(resolveSecret(backups.integrityKey, env), name);
  const previous = backups.previousIntegrityKeys.map((ref) => deriveMacKey(resolveSecret(ref, env), name));
  // The SDKs retry an unreachable endpoint for long (Azure about 45 s), silently: say so at each try.
  const { onWaiting } = options;
  const open = async (url: string) => {
    if (!onWaiting) return openRepositoryStore(backups, env, url);
    const { repositoryEndpoint } = await import('./store/unreachable.js');
    const endpoint = repositoryEndpoint(backups, url);
    return openRepositoryStore(backups, env, url, {
      onRetry: ({ attempt, attempts, reason }) =>
        onWaiting(`still trying ${endpoint} (attempt ${attempt} of ${attempts}, after ${reason})…`),
    });
  };
  const store = await open(backups.repository);
  const state = backups.stateRepository
    ? await open(backups.stateRepository).catch(async (error) => {
        await store.close();
        throw error;
      })
    : store;
  return {
    site: name,
    siteConfig: site,
    backups,
    store,
    state,
    macKey,
    macKeys: [macKey, ...previous],
    recipients: backups.encryption.recipients,
    env,
  };
}

export function siteDatabase(repo: SiteRepository): DatabaseTarget {
  return {
    url: repo.siteConfig.database.url,
    password: resolveSecret(repo.siteConfig.database.password, repo.env),
  };
}

/** The private age identities, for restores, deep verification and drills. */
export function siteIdentities(repo: SiteRepository, override?: string): string[] {
  const ref = override ? { file: override } : repo.backups.encryption.identity;
  if (!ref) {
    throw new UsageError(
      `No age identity is configured for site ${repo.site}; it is needed to decrypt.`,
      `Set sites.${repo.site}.backups.encryption.identity, or pass --identity FILE.`,
    );
  }
  return parseIdentities(resolveSecret(ref, repo.env));
}

/** Closes the repository and, when it is separate, the state repository. */
export async function closeSiteRepository(repo: SiteRepository): Promise<void> {
  await repo.store.close();
  if (repo.state !== repo.store) await repo.state.close();
}

/** A warning when an age identity file can be read by its group or by everyone. */
export function identityFileWarning(repo: SiteRepository, override?: string): string | undefined {
  const ref = override ? { file: override } : repo.backups.encryption.identity;
  if (!ref || !('file' in ref)) return undefined;
  try {
    const mode = statSync(ref.file).mode & 0o777;
    if ((mode & 0o077) === 0) return undefined;
    return `The age identity ${ref.file} can be read by ${mode & 0o004 ? 'everyone' : 'its group'} (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${ref.file}.`;
  } catch {
    return undefined;
  }
}

// Config-level, shared with `tier4 config validate`, which must not load the backup engine to run it.
export { recipientProblem };
