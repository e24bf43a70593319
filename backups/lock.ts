import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { errorMessage, OperationError } from '../core/errors.js';
import { layout } from './layout.js';
import type { ObjectStore } from './store/types.js';

/**
 * One backup or prune per site at a time, through a lock object in the state repository. The holder refreshes
 * it while it works; a lock whose holder died expires after its time to live and is then taken over.
 * Restores and drills each hold a shared lock of their own: prune, which deletes sets, refuses while one runs,
 * and a restore refuses while a prune holds the repository.
 */
export interface LockRecord {
  token: string;
  operation: string;
  host: string;
  pid: number;
  acquiredAt: string;
  expiresAt: string;
}

export interface HeldLock {
  record: LockRecord;
  release(): Promise<void>;
}

export interface LockOptions {
  ttlMs?: number;
  refreshMs?: number;
  now?: () => Date;
}

/** What both kinds of lock share: a fresh token, the clock, records that expire a TTL from now, the refresh. */
function lockTerms(operation: string, options: LockOptions) {
  const ttl = options.ttlMs ?? 15 * 60_000;
  const now = options.now ?? (() => new Date());
  return {
    now,
    token: randomBytes(12).toString('hex'),
    makeRecord: (token: string, acquiredAt: string) =>
      lockRecord(token, operation, acquiredAt, new Date(now().getTime() + ttl)),
    refreshMs: options.refreshMs ?? ttl / 3,
  };
}

export async function acquireLock(
  store: ObjectStore,
  site: string,
  operation: string,
  options: LockOptions = {},
): Promise<HeldLock> {
  const { now, token, makeRecord, refreshMs } = lockTerms(operation, options);
  const key = layout.lock(site);
  let record = makeRecord(token, now().toISOString());

  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (await store.createExclusive(key, JSON.stringify(record))) {
      return hold(store, key, record, () => makeRecord(token, record.acquiredAt), refreshMs);
    }
    const existing = await readLock(store, site);
    if (existing && isLive(existing, now())) {
      throw new OperationError(
        `The ${site} repository is locked by a ${existing.operation} on ${existing.host} (pid ${existing.pid}) since ${existing.acquiredAt}.`,
        `Wait for it to finish. If that process is gone, the lock expires at ${existing.expiresAt}.`,
      );
    }
    // Stale (its holder died) or unreadable: remove it and try again.
    await removeStaleLock(store, key, site);
    record = makeRecord(token, now().toISOString());
  }
  throw new OperationError(`Could not take the ${site} repository lock: another process keeps taking it.`);
}

function lockRecord(token: string, operation: string, acquiredAt: string, expiresAt: Date): LockRecord {
  return {
    token,
    operation,
    host: hostname(),
    pid: process.pid,
    acquiredAt,
    expiresAt: expiresAt.toISOString(),
  };
}

/** `tier4 backup unlock`: removes the site's lock (the caller has checked it is stale and asked). */
export async function removeLock(store: ObjectStore, site: string): Promise<void> {
  await removeStaleLock(store, layout.lock(site), site);
}

/** A stale lock that cannot be deleted (e.g. it sits in immutable storage) is a clear error, not a crash. */
async function removeStaleLock(store: ObjectStore, key: string, site: string): Promise<void> {
  try {
    await store.delete(key);
  } catch (error) {
    throw new OperationError(
      `The stale lock ${key} of ${site} in ${store.location} cannot be removed: ${errorMessage(error)}`,
      isImmutable(error)
        ? 'The repository is immutable (WORM) storage, which refuses deletes: keep the lock elsewhere with backups.stateRepository (e.g. a container without an immutability policy).'
        : 'Check the repository permissions; `tier4 backup unlock` removes a stale lock once it can be deleted.',
    );
  }
}

/**
 * Azure answers a write or delete of a blob under a time-based retention policy or legal hold with 409 and
 * BlobImmutableDueToPolicy / BlobImmutableDueToLegalHold (Azure Storage REST API, "Blob Storage error codes";
 * azure-docs articles/storage/blobs/immutable-storage-overview.md: while a policy holds, blobs can be created
 * and read, not modified or deleted).
 */
export function isImmutable(error: unknown): boolean {
  const e = error as { statusCode?: number; code?: string };
  return e?.statusCode === 409 && /^BlobImmutableDueTo(Policy|LegalHold)$/.test(e.code ?? '');
}

/** A holder on this same host whose process no longer exists (killed, crashed) will never release its lock. */
function holderIsGone(record: LockRecord): boolean {
  if (record.host !== hostname() || record.pid === process.pid) return false;
  try {
    process.kill(record.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export async function readLock(store: ObjectStore, site: string): Promise<LockRecord | undefined> {
  const bytes = await store.getBytes(layout.lock(site));
  return bytes ? parseLock(bytes) : undefined;
}

function parseLock(bytes: Buffer): LockRecord | undefined {
  try {
    const record = JSON.parse(bytes.toString('utf8')) as LockRecord;
    return typeof record?.token === 'string' && typeof record.expiresAt === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

/** A lock whose holder is still working: not expired, and not held by a process known to be gone. */
export function isLive(record: LockRecord, now: Date = new Date()): boolean {
  return new Date(record.expiresAt) > now && !holderIsGone(record);
}

/** The restores and drills running now (their shared locks), for prune. */
export async function liveRestores(store: ObjectStore, site: string): Promise<LockRecord[]> {
  const live: LockRecord[] = [];
  for await (const object of store.list(layout.restoreLocksPrefix(site))) {
    const bytes = await store.getBytes(object.key);
    const record = bytes ? parseLock(bytes) : undefined;
    if (record && isLive(record)) live.push(record);
  }
  return live;
}

/**
 * The shared lock of a restore or drill: many may run at once, and with a backup, but not with a prune,
 * which could delete the set being read. Each side writes its own lock first and then looks for the other,
 * so at least one of two that start together sees the other and refuses.
 */
export async function acquireRestoreLock(
  store: ObjectStore,
  site: string,
  operation: string,
  options: LockOptions = {},
): Promise<HeldLock> {
  const { now, token, makeRecord, refreshMs } = lockTerms(operation, options);
  const key = layout.restoreLock(site, token);
  const first = makeRecord(token, now().toISOString());
  if (!(await store.createExclusive(key, JSON.stringify(first))))
    throw new OperationError(`Could not take a restore lock on ${site}: ${key} exists.`);
  const held = hold(store, key, first, () => makeRecord(token, first.acquiredAt), refreshMs);
  const exclusive = await readLock(store, site).catch(async (error) => {
    await held.release();
    throw error;
  });
  if (exclusive && exclusive.operation === 'prune' && isLive(exclusive)) {
    await held.release();
    throw new OperationError(
      `A prune of ${site} is running (on ${exclusive.host}, pid ${exclusive.pid}, since ${exclusive.acquiredAt}); it may delete sets, so nothing was ${operation === 'drill' ? 'drilled' : 'restored'}.`,
      'Wait for the prune to finish, then run this again.',
    );
  }
  return held;
}

/** Refuses (and releases `lock`) while a restore or drill reads the repository. */
export async function assertNoRestoreRunning(
  store: ObjectStore,
  site: string,
  lock: HeldLock,
): Promise<void> {
  const restores = await liveRestores(store, site).catch(async (error) => {
    await lock.release();
    throw error;
  });
  if (restores.length === 0) return;
  await lock.release();
  const first = restores[0]!;
  throw new OperationError(
    `${restores.length} restore(s) or drill(s) of ${site} are reading the repository (a ${first.operation} on ${first.host}, pid ${first.pid}, since ${first.acquiredAt}); nothing was pruned.`,
    'Run prune again when they have finished (a restore lock whose process died expires by itself).',
  );
}

function hold(
  store: ObjectStore,
  key: string,
  initial: LockRecord,
  refreshed: () => LockRecord,
  refreshMs: number,
): HeldLock {
  let record = initial;
  let released = false;
  const timer = setInterval(() => {
    record = refreshed();
    store.putBytes(key, JSON.stringify(record)).catch(() => {
      // A failed refresh is retried at the next tick; the lock lasts a full TTL from the last success.
    });
  }, refreshMs);
  timer.unref();
  return {
    get record() {
      return record;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      const current = await store.getBytes(key).catch(() => undefined);
      if (current && parseLock(current)?.token === initial.token)
        await store.delete(key).catch(() => undefined); // it expires on its own
    },
  };
}
