import type { SiteRepository } from '../backups/index.js';
import type { CommandContext } from './context.js';

/** Opens a site's backup repository for the length of `work`, and always closes it. */
export async function withSiteRepository<T>(
  ctx: CommandContext,
  site: string | undefined,
  work: (repo: SiteRepository) => Promise<T>,
): Promise<T> {
  // The engine is imported here, not at the top: --help must not load cloud SDKs.
  const { openSiteRepository, closeSiteRepository } = await import('../backups/index.js');
  const { unreachableRepository } = await import('../backups/index.js');
  const repo = await openSiteRepository(ctx.config(), ctx.site(site, 'backups').name, ctx.io.env, {
    onWaiting: (message) => ctx.out.info(message),
  });
  try {
    return await work(repo);
  } catch (error) {
    throw unreachableRepository(error, repo.backups, repo.store.location);
  } finally {
    await closeSiteRepository(repo);
  }
}
