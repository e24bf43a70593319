/** The backup engine's public surface, for the CLI and for other features (drills, promotion, doctor). */
export { openBlobTarget, openSiteBlobs } from './attachments.js';
export { type Catalog, type CatalogEntry, readCatalog } from './catalog.js';
export { type CheckReport, checkRepository } from './check.js';
export { type CreateResult, createBackup } from './create.js';
export { layout } from './layout.js';
export { listSets, type SetSummary } from './list.js';
export type { Manifest } from './manifest.js';
export { type PruneReport, pruneRepository } from './prune.js';
export {
  type CheckOutcome,
  checkSet,
  inspectTarget,
  nextSteps,
  planRestore,
  type RestorePlan,
  restoreMethod,
  restorePrerequisites,
  runRestore,
} from './restore.js';
export { openSiteRepository, type SiteRepository, siteDatabase, siteIdentities } from './site-repository.js';
export { findSet, type VerifyReport, verifySet } from './verify.js';
