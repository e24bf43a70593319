import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { OperationError } from '../core/errors.js';
import { layout } from './layout.js';
import type { ObjectStore } from './store/types.js';

/**
 * One backup or prune per site at a time, through a lock object in the repository. The holder refreshes it
 * while it works; a lock whose holder died expires after its time to live and is then taken over.
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

export async function acquireLock(
  store: ObjectStore,
  site: string,
  operation: string,
  options: LockOptions = {},
): Promise<HeldLock> {
  const ttl = options.ttlMs ?? 15 * 60_000;
  const now = options.now ?? (() => new Date());
  const key = layout.lock(site);
  const makeRecord = (token: string, acquiredAt: string): LockRecord => ({
    token,
    operation,
    host: hostname(),
    pid: process.pid,
    acquiredAt,
    expiresAt: new Date(now().getTime() + ttl).toISOString(),
  });
  const token = randomBytes(12).toString('hex');
  let record = makeRecord(token, now().toISOString());

  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (await store.createExclusive(key, JSON.stringify(record))) {
      return hold(
        store,
        key,
        record,
        () => makeRecord(token, record.acquiredAt),
        options.refreshMs ?? ttl / 3,
      );
    }
    const existing = await readLock(store, site);
    if (existing && new Date(existing.expiresAt) > now() && !holderIsGone(existing)) {
      throw new OperationError(
        `The ${site} repository is locked by a ${existing.operation} on ${existing.host} (pid ${existing.pid}) since ${existing.acquiredAt}.`,
        `Wait for it to finish. If that process is gone, the lock expires at ${existing.expiresAt}.`,
      );
    }
    // Stale (its holder died) or unreadable: remove it and try again.
    await store.delete(key);
    record = makeRecord(token, now().toISOString());
  }
  throw new OperationError(`Could not take the ${site} repository lock: another process keeps taking it.`);
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
  if (!bytes) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as LockRecord;
  } catch {
    return undefined;
  }
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
      if (current && (JSON.parse(current.toString('utf8')) as LockRecord).token === initial.token)
        await store.delete(key);
    },
  };
}
