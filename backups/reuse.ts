import { mapLimit } from '../core/concurrency.js';
import { errorMessage } from '../core/errors.js';
import type { Catalog } from './catalog.js';
import { digestOf } from './crypto/digest.js';
import { layout } from './layout.js';
import type { BlobRecord } from './manifest.js';
import type { ObjectStore } from './store/types.js';

/** A stored attachment an earlier set recorded that no longer matches that record, or is gone. */
export interface DamagedObject {
  object: string;
  problem: string;
}

export interface ReusePlan {
  /** Stored copies a new set may reference instead of uploading again, by attachment key. */
  reusable: Map<string, BlobRecord>;
  /** Every object under the blobs prefix now: a new upload never takes one of these names. */
  present: Set<string>;
  damaged: DamagedObject[];
}

/** At least this many reused objects are read back per backup, and enough to cover them all in a month. */
const SAMPLE_MIN = 8;
const SAMPLE_DAYS = 30;

/**
 * Which stored attachments a backup may reuse. Not blindly: a copy whose stored size differs from its record,
 * or (on a rolling sample, so every copy is read about once a month) whose SHA-256 differs, is damaged and is
 * uploaded again; a copy whose source failed its checksum when it was read is read again, so a repaired
 * source gets a good copy.
 */
export async function planReuse(
  store: ObjectStore,
  site: string,
  catalog: Catalog,
  options: { fresh?: boolean; now?: Date; signal?: AbortSignal } = {},
): Promise<ReusePlan> {
  const sizes = new Map<string, number>();
  for await (const object of store.list(layout.blobsPrefix(site))) sizes.set(object.key, object.size);
  const present = new Set(sizes.keys());
  const damaged: DamagedObject[] = [];
  const candidates = new Map<string, BlobRecord>();
  const badCopies = new Set<string>();
  const vanished = new Set<string>();
  for (const entry of options.fresh ? [] : catalog.complete) {
    const manifest = entry.manifest!;
    const mismatched = new Set(
      manifest.attachments.problems.filter((p) => p.problem === 'checksum-mismatch').map((p) => p.key),
    );
    for (const blob of manifest.attachments.blobs) {
      if (mismatched.has(blob.key)) badCopies.add(blob.object);
      if (sizes.has(blob.object)) candidates.set(blob.key, blob);
      else vanished.add(blob.object); // never reused; the sets that record it no longer verify
    }
  }
  const reusable = new Map<string, BlobRecord>();
  const reported = new Set<string>();
  const report = (object: string, problem: string) => {
    if (reported.has(object)) return;
    reported.add(object);
    damaged.push({ object, problem });
  };
  for (const object of vanished) report(object, 'no longer in the repository');
  for (const [key, record] of candidates) {
    if (badCopies.has(record.object)) continue; // read the source again: it may have been repaired
    const size = sizes.get(record.object);
    if (size !== record.size) report(record.object, `stored size ${size}, recorded ${record.size}`);
    else reusable.set(key, record);
  }
  const sample = rollingSample([...reusable.values()], options.now ?? new Date());
  await mapLimit(
    sample,
    4,
    async (record) => {
      const problem = await readBack(store, record);
      if (problem) {
        report(record.object, problem);
        reusable.delete(record.key);
      }
    },
    options.signal,
  );
  return { reusable, present, damaged };
}

/** The day's slice of the records, by object name, wrapping around: the whole set over SAMPLE_DAYS days. */
function rollingSample(records: BlobRecord[], now: Date): BlobRecord[] {
  if (records.length === 0) return [];
  const sorted = [...records].sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : 0));
  const size = Math.min(sorted.length, Math.max(SAMPLE_MIN, Math.ceil(sorted.length / SAMPLE_DAYS)));
  const day = Math.floor(now.getTime() / 86_400_000);
  const start = (day * size) % sorted.length;
  return Array.from({ length: size }, (_, i) => sorted[(start + i) % sorted.length]!);
}

async function readBack(store: ObjectStore, record: BlobRecord): Promise<string | undefined> {
  try {
    const { bytes, digest } = await digestOf(await store.get(record.object));
    if (bytes !== record.size) return `stored size ${bytes}, recorded ${record.size}`;
    if (digest !== record.sha256) return 'stored SHA-256 does not match its record';
    return undefined;
  } catch (error) {
    return `cannot be read: ${errorMessage(error)}`;
  }
}
