/**
 * The backup engine's public surface, for the CLI and for other features (drills, promotion, doctor,
 * rehearsal): they import this file, never the modules behind it (test/architecture.test.ts).
 */
export { openBlobTarget, openSiteBlobs } from './attachments.js';
export { type Catalog, type CatalogEntry, readCatalog } from './catalog.js';
export { type CheckReport, checkRepository } from './check.js';
export { type CreateResult, createBackup } from './create.js';
export { decryptStream, generateIdentity } from './crypto/age.js';
export { digestOf } from './crypto/digest.js';
export { macMatches, macOf } from './crypto/mac.js';
export { compactTime, layout } from './layout.js';
export { listSets, type SetSummary } from './list.js';
export { acquireRestoreLock, isLive, readLock, removeLock } from './lock.js';
export type { Manifest } from './manifest.js';
export { describeIncomplete, readIncomplete } from './postgres/restore-marker.js';
export { readFacts } from './postgres/snapshot.js';
export type { ProgressEvent, ProgressListener } from './progress.js';
export { type PruneReport, pruneRepository } from './prune.js';
export { type InitOutcome, initRepository } from './repository-marker.js';
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
export {
  auditTarget,
  lastRestoreAndDrill,
  type RestoreAuditRecord,
  RunAudit,
  repositoryAuditRecords,
  restoreAuditPath,
  restoreHistory,
  saveAuditRecord,
} from './restore-audit.js';
export {
  closeSiteRepository,
  identityFileWarning,
  openSiteRepository,
  recipientProblem,
  type SiteRepository,
  siteDatabase,
  siteIdentities,
} from './site-repository.js';
export { unreachableRepository } from './store/unreachable.js';
export {
  checkAttachmentsTarget,
  checkDatabaseTarget,
  type TargetKind,
  type TargetVerdict,
} from './target-guard.js';
export { findSet, type VerifyReport, verifySet } from './verify.js';
export { findZstd, ZSTD_HINT } from './zstd.js';
