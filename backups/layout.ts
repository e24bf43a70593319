import { createHash, randomBytes } from 'node:crypto';

/**
 * Where things live inside a repository (below its prefix):
 *   <site>/sets/<id>/database.dump.age    the encrypted pg_dump (custom format)
 *   <site>/sets/<id>/manifest.json        written last: a set without it does not exist
 *   <site>/sets/<id>/verified/<time>.json verification records
 *   <site>/blobs/<k0k1>/<key>.age         attachments, shared by all sets (blobs are immutable)
 *   <site>/blobs/<k0k1>/<key>.<v>.age     another copy of the same attachment, when <key>.age exists but no
 *                                         trusted set records it: stored objects are never overwritten
 *   <site>/repository/<fp>.json           the repository marker, one per integrity key, written once
 *                                         (repository-marker.ts)
 *   <site>/lock.json                      one backup or prune at a time
 *   <site>/locks/restore-<token>.json     one per running restore or drill: prune waits for them
 * The lock files and verification records are mutable state: with backups.stateRepository they live there,
 * under the same names, and not in the repository (immutable storage refuses to rewrite or delete them).
 *   <site>/drills/<time>.json             restore drill summaries
 */
export const layout = {
  setsPrefix: (site: string) => `${site}/sets/`,
  setPrefix: (site: string, id: string) => `${site}/sets/${id}/`,
  manifest: (site: string, id: string) => `${site}/sets/${id}/manifest.json`,
  dump: (site: string, id: string) => `${site}/sets/${id}/database.dump.age`,
  verification: (site: string, id: string, at: Date) => `${site}/sets/${id}/verified/${compactTime(at)}.json`,
  blobsPrefix: (site: string) => `${site}/blobs/`,
  blob: (site: string, key: string, variant?: string) => {
    const safe = /^[A-Za-z0-9_-]{4,200}$/.test(key)
      ? key
      : `h-${createHash('sha256').update(key).digest('hex')}`;
    return `${site}/blobs/${safe.slice(0, 2)}/${safe}${variant ? `.${variant}` : ''}.age`;
  },
  markersPrefix: (site: string) => `${site}/repository/`,
  lock: (site: string) => `${site}/lock.json`,
  restoreLocksPrefix: (site: string) => `${site}/locks/`,
  restoreLock: (site: string, token: string) => `${site}/locks/restore-${token}.json`,
  drillsPrefix: (site: string) => `${site}/drills/`,
  drill: (site: string, at: Date, id: string) => `${site}/drills/${compactTime(at)}-${id}.json`,
};

/** 20261121T011500Z */
export function compactTime(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * Set ids sort by time, to the millisecond, so sets taken in the same second still order correctly:
 * 20261121T011500.123Z-3fa91c. (Ids without milliseconds, from earlier versions, are still read.)
 */
export function newSetId(at: Date): string {
  const ms = String(at.getUTCMilliseconds()).padStart(3, '0');
  return `${compactTime(at).replace(/Z$/, '')}.${ms}Z-${randomBytes(3).toString('hex')}`;
}

export const SET_ID_PATTERN = /^\d{8}T\d{6}(\.\d{3})?Z-[0-9a-f]{6}$/;

export function setIdTime(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d{3})?Z/.exec(id);
  if (!m) return new Date(Number.NaN);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}Z`);
}
