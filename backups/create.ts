import { randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { execa } from 'execa';
import type pg from 'pg';
import { mapLimit } from '../core/concurrency.js';
import { DEFAULT_COMPRESSION } from '../core/config/schema.js';
import { errorMessage, OperationError } from '../core/errors.js';
import { toolVersion } from '../core/package-info.js';
import {
  connectDatabase,
  type DatabaseTarget,
  databaseError,
  toolConnection,
} from '../core/postgres/connection.js';
import { assertToolCanHandle, findPgTool, type PgTool, toolErrorDetail } from '../core/postgres/pg-tools.js';
import { printableKey, unsafeBlobKey } from '../core/primero/tables.js';
import { type BlobEndpoint, openSiteBlobs, UnsafeBlobError } from './attachments.js';
import { type Catalog, readCatalog } from './catalog.js';
import { encryptStream } from './crypto/age.js';
import { DigestStream } from './crypto/digest.js';
import {
  brotliCompressed,
  type DumpCompression,
  pgDumpLevel,
  streamCompression,
} from './dump-compression.js';
import { inOrder } from './in-order.js';
import { layout, newSetId } from './layout.js';
import { acquireLock } from './lock.js';
import { type BlobRecord, type Manifest, type ManifestBody, sealManifest } from './manifest.js';
import { type ExportedSnapshot, exportSnapshot, type SourceBlob } from './postgres/snapshot.js';
import type { ProgressListener } from './progress.js';
import { assertMayBackUp, ensureInitialised, type InitOutcome } from './repository-marker.js';
import { type DamagedObject, planReuse, type ReusePlan } from './reuse.js';
import type { SiteRepository } from './site-repository.js';
import { isNotFound } from './store/retry.js';
import { type ArchiveCompressor, findZstd, startCompressor, type ZstdTool } from './zstd.js';

export interface CreateOptions {
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  /** Parallel blob uploads (default: backups.concurrency). */
  concurrency?: number;
  /**
   * Reuse nothing: upload every attachment again (under new object names), so the set depends on no earlier
   * set. After an integrity key was exposed or lost; the only way to back up into a repository none of whose
   * sets can be trusted.
   */
  fresh?: boolean;
  /** Initialise the repository when it is new (empty, no marker); without it a backup refuses to start one. */
  init?: boolean;
}

export interface CreateResult {
  manifest: Manifest;
  /** Blobs that were missing from storage, or did not match their checksum, when the set was taken. */
  problems: Manifest['attachments']['problems'];
  /** Stored copies earlier sets recorded that no longer match: those sets fail verification now. */
  damaged: DamagedObject[];
  /** What the backup did to the repository marker: 'already' when nothing. */
  initialised: InitOutcome;
}

/**
 * Takes one backup set: the database from an exported snapshot, streamed through age into the repository;
 * the attachments the repository does not have yet; then the manifest, last. Until the manifest is written
 * the set does not exist, so a failure or a kill at any point leaves nothing that looks complete.
 */
export async function createBackup(
  repo: SiteRepository,
  database: DatabaseTarget,
  options: CreateOptions = {},
): Promise<CreateResult> {
  const startedAt = new Date();
  const progress = options.onProgress ?? (() => {});
  // Started together, they cost the time of the slowest rather than of all four (decision 0013).
  const compression = streamCompression(repo.siteConfig.backups?.compression ?? DEFAULT_COMPRESSION);
  const [, pgDump, zstd, blobs, client] = await inOrder<
    [unknown, PgTool, ZstdTool | undefined, BlobEndpoint, pg.Client]
  >(
    [
      assertMayBackUp(repo, { init: options.init === true }),
      findPgTool('pg_dump', repo.env),
      compression?.method === 'zstd' ? findZstd(repo.env) : Promise.resolve(undefined),
      openSiteBlobs(repo.siteConfig.attachments, repo.env),
      connectDatabase(database),
    ],
    closeOpened,
  );
  const lock = await acquireLock(repo.state, repo.site, 'backup').catch(async (error) => {
    await client.end().catch(() => undefined);
    await blobs.close();
    throw error;
  });
  let setId: string | undefined;
  try {
    // The snapshot is exported while the catalog is read; a failed check ends it with the connection.
    const [catalog, snapshot] = await inOrder<[Catalog, ExportedSnapshot]>([
      readCatalog(repo.store, repo.site, repo.macKeys, repo.state),
      exportSnapshot(client).catch((error) => {
        throw databaseError(error, database.url);
      }),
    ]);
    const initialised = await ensureInitialised(repo, catalog, {
      init: options.init === true,
      fresh: options.fresh === true,
    });
    if (!options.fresh) assertSomeSetTrusted(repo, catalog);
    const id = newSetId(snapshot.takenAt);
    setId = id;
    assertToolCanHandle(pgDump, snapshot.serverMajor, 'pg_dump');
    // Which stored attachments may be reused (a listing of every stored blob) is worked out while pg_dump runs.
    const reuse = planReuse(repo.store, repo.site, catalog, {
      ...(options.fresh ? { fresh: true } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    reuse.catch(() => undefined); // awaited after the dump; a failure meanwhile is not an unhandled rejection
    // The dump and the reading of facts run at once, in the same snapshot; wait for both before going on.
    const [dumped, read] = await Promise.allSettled([
      dumpDatabase(
        repo,
        database,
        { pgDump: pgDump.path, zstd },
        snapshot,
        layout.dump(repo.site, id),
        progress,
        options.signal,
      ),
      snapshot.contents,
    ]);
    await snapshot.close();
    if (dumped.status === 'rejected') throw dumped.reason;
    if (read.status === 'rejected') throw databaseError(read.reason, database.url);
    const dump = dumped.value;
    const { facts, blobs: sourceBlobs } = read.value;
    const databaseDone = new Date();

    const { attachments, damaged } = await backUpBlobs(repo, reuse, blobs, sourceBlobs, options, progress);
    const finishedAt = new Date();
    const body: ManifestBody = {
      format: 'tier4-backup-set/1',
      id,
      site: repo.site,
      tool: { name: 'primero-tier4', version: toolVersion() },
      snapshotAt: snapshot.takenAt.toISOString(),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      timings: {
        databaseSeconds: seconds(startedAt, databaseDone),
        attachmentsSeconds: seconds(databaseDone, finishedAt),
        totalSeconds: seconds(startedAt, finishedAt),
      },
      encryption: { scheme: 'age-x25519', recipients: repo.recipients },
      database: {
        object: layout.dump(repo.site, id),
        size: dump.size,
        sha256: dump.sha256,
        plainSize: dump.plainSize,
        format: 'pg_dump-custom',
        ...(dump.compression ? { compression: dump.compression } : {}),
        name: facts.name,
        serverVersion: facts.serverVersion,
        serverMajor: facts.serverMajor,
        pgDumpVersion: pgDump.version,
        extensions: facts.extensions,
        rowCounts: facts.rowCounts,
        bulkTables: snapshot.bulkTables,
        latestMigration: facts.latestMigration,
        primeroVersion: facts.primeroVersion,
      },
      attachments,
    };
    const manifest = sealManifest(body, repo.macKey);
    options.signal?.throwIfAborted();
    // The manifest is the commit point: written last, atomically.
    await repo.store.putBytes(layout.manifest(repo.site, id), `${JSON.stringify(manifest, null, 2)}\n`);
    return { manifest, problems: attachments.problems, damaged, initialised };
  } catch (error) {
    if (setId) await removeIncompleteSet(repo, setId);
    throw error;
  } finally {
    await lock.release().catch(() => undefined);
    await client.end().catch(() => undefined);
    await blobs.close().catch(() => undefined);
  }
}

/** A database client or blob endpoint that opened while another opening failed. */
async function closeOpened(value: unknown): Promise<void> {
  if (value && typeof value === 'object' && 'end' in value) await (value as pg.Client).end();
  else if (value && typeof value === 'object' && 'close' in value) await (value as BlobEndpoint).close();
}

function seconds(from: Date, to: Date): number {
  return Math.round((to.getTime() - from.getTime()) / 10) / 100;
}

/** Best effort: objects of a set that never got its manifest. Prune removes whatever is left. */
async function removeIncompleteSet(repo: SiteRepository, id: string): Promise<void> {
  try {
    const keys: string[] = [];
    for await (const object of repo.store.list(layout.setPrefix(repo.site, id))) keys.push(object.key);
    if (keys.includes(layout.manifest(repo.site, id))) return;
    for (const key of keys) await repo.store.delete(key);
  } catch {
    // The repository may be what failed; prune cleans up later.
  }
}

async function dumpDatabase(
  repo: SiteRepository,
  database: DatabaseTarget,
  tools: { pgDump: string; zstd: ZstdTool | undefined },
  snapshot: Pick<ExportedSnapshot, 'id' | 'tableSizes'>,
  objectKey: string,
  progress: ProgressListener,
  signal: AbortSignal | undefined,
): Promise<{ size: number; sha256: string; plainSize: number; compression?: DumpCompression }> {
  const config = repo.siteConfig.backups?.compression ?? DEFAULT_COMPRESSION;
  const compression = streamCompression(config);
  const tool = toolConnection(database);
  // zstd reads pg_dump's pipe itself: tier4 reads only the compressed stream (decision 0018).
  let compressor: ArchiveCompressor | undefined;
  if (compression?.method === 'zstd') {
    if (!tools.zstd) throw new Error('zstd compression without the zstd program'); // found at the start
    compressor = startCompressor(tools.zstd, compression.level);
  }
  const child = execa(
    tools.pgDump,
    // --verbose names each table as it starts on it: with the tables' sizes, that gives a fraction done.
    [
      '--format=custom',
      `--compress=${pgDumpLevel(config)}`,
      '--verbose',
      `--snapshot=${snapshot.id}`,
      '--no-password',
      `--dbname=${tool.url}`,
    ],
    {
      env: tool.env,
      stdin: 'ignore',
      stdout: compressor ? compressor.input : 'pipe',
      stderr: 'pipe',
      buffer: { stdout: false, stderr: true },
      reject: false,
      ...(signal ? { cancelSignal: signal } : {}),
    },
  );
  const dumped = (async () => {
    try {
      return await child;
    } finally {
      compressor?.producerExited();
    }
  })();
  let readBytes = 0;
  let lastReport = 0;
  const total = [...snapshot.tableSizes.values()].reduce((sum, bytes) => sum + bytes, 0);
  let doneBytes = 0;
  let current = 0;
  let fraction: number | undefined;
  let pending = '';
  const report = () => {
    const now = Date.now();
    if (now - lastReport <= 250) return;
    lastReport = now;
    progress({ phase: 'database', bytes: readBytes, ...(fraction !== undefined ? { fraction } : {}) });
  };
  child.stderr!.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const table = /dumping contents of table "([^"]+)"/.exec(line)?.[1];
      if (table === undefined || total === 0) continue;
      doneBytes += current;
      current = snapshot.tableSizes.get(table) ?? 0;
      fraction = Math.min(0.99, doneBytes / total);
      report(); // zstd hands on its output in blocks: the tables pg_dump starts are the steadier sign
    }
  });
  // Counts what tier4 reads and stores: pg_dump's archive, or zstd's compressed stream of it.
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      readBytes += chunk.length;
      report();
      callback(null, chunk);
    },
  });
  const digest = new DigestStream('sha256');
  let plainSize: number;
  try {
    const read = (compressor ? compressor.output : child.stdout!).pipe(counter);
    const source = compression?.method === 'brotli' ? brotliCompressed(read, compression.level) : read;
    source.once('error', (error) => digest.destroy(error)); // .pipe() would not pass it on to the upload
    const encrypted = await encryptStream(source, repo.recipients);
    const upload = repo.store.put(objectKey, encrypted.pipe(digest));
    const [, result, sizes] = await Promise.all([upload, dumped, compressor?.finished]);
    if (result.exitCode !== 0 || result.failed) {
      throw new OperationError(
        result.isCanceled
          ? 'pg_dump was stopped: the backup was interrupted'
          : `pg_dump failed: ${toolErrorDetail(result)}`,
        result.isCanceled
          ? undefined
          : 'Check the database connection and that the backup user may read every table.',
      );
    }
    // plainSize is the archive pg_dump wrote (what a restore puts on disk), before any compression; zstd
    // counted it. What zstd says it wrote must be what tier4 read and encrypted.
    if (sizes && sizes.compressedSize !== readBytes) {
      throw new OperationError(
        `zstd reported ${sizes.compressedSize} compressed bytes but tier4 read ${readBytes}; the backup was not completed.`,
      );
    }
    plainSize = sizes ? sizes.plainSize : readBytes;
  } catch (error) {
    child.kill('SIGTERM');
    compressor?.kill();
    throw error;
  }
  progress({ phase: 'database', bytes: readBytes, fraction: 1 });
  return {
    size: digest.bytes,
    sha256: digest.digest('hex'),
    plainSize,
    ...(compression ? { compression } : {}),
  };
}

/**
 * A repository whose sets are all untrusted is read with the wrong integrity key (or was tampered with):
 * backing up into it would share nothing with the sets there, and prune could not tell what they need.
 */
function assertSomeSetTrusted(repo: SiteRepository, catalog: Catalog): void {
  if (catalog.complete.length > 0 || catalog.invalid.length === 0) return;
  throw new OperationError(
    `None of the ${catalog.invalid.length} backup set(s) of ${repo.site} in ${repo.store.location} can be trusted with the configured integrity key; no backup was taken.`,
    'After a key rotation, list the old key under backups.previousIntegrityKeys. If the old key is lost for good, run `tier4 backup create --fresh` (it reuses nothing; the old sets stay, untrusted, for inspection).',
  );
}

async function backUpBlobs(
  repo: SiteRepository,
  reuse: Promise<ReusePlan>,
  source: BlobEndpoint,
  blobs: SourceBlob[],
  options: CreateOptions,
  progress: ProgressListener,
): Promise<{ attachments: Manifest['attachments']; damaged: DamagedObject[] }> {
  // Blobs are immutable and keyed by a random id: one already stored by an earlier complete set is reused,
  // once its stored copy has been checked.
  const { reusable: known, present, damaged } = await reuse;
  const problems: Manifest['attachments']['problems'] = [];
  let done = 0;
  let uploadedBytes = 0;
  let uploaded = 0;
  const records = await mapLimit(
    blobs,
    options.concurrency ?? repo.backups.concurrency,
    async (blob): Promise<BlobRecord | undefined> => {
      // A key that is not a plain name is never turned into a path or an object name, nor opened.
      if (unsafeBlobKey(blob.key)) {
        problems.push({ key: printableKey(blob.key), problem: 'unsafe-key', blobId: blob.id });
        done += 1;
        return undefined;
      }
      const reused = known.get(blob.key);
      let record: BlobRecord | undefined = reused;
      if (!record) {
        record = await uploadBlob(repo, source, blob, present, problems);
        if (record) {
          uploaded += 1;
          uploadedBytes += record.size;
        }
      }
      done += 1;
      progress({ phase: 'attachments', done, total: blobs.length, bytes: uploadedBytes });
      return record;
    },
    options.signal,
  );
  const stored = records.filter((record): record is BlobRecord => record !== undefined);
  const attachments = {
    count: stored.length,
    plainBytes: stored.reduce((sum, record) => sum + record.plainSize, 0),
    storedBytes: stored.reduce((sum, record) => sum + record.size, 0),
    uploaded,
    uploadedBytes,
    reused: stored.length - uploaded,
    problems,
    blobs: stored,
  };
  return { attachments, damaged };
}

async function uploadBlob(
  repo: SiteRepository,
  source: BlobEndpoint,
  blob: SourceBlob,
  present: ReadonlySet<string>,
  problems: Manifest['attachments']['problems'],
): Promise<BlobRecord | undefined> {
  // Stored objects are never overwritten: a set we cannot read (another key, damage) may need the one there.
  let objectKey = layout.blob(repo.site, blob.key);
  if (present.has(objectKey) || (await repo.store.head(objectKey)) !== undefined)
    objectKey = layout.blob(repo.site, blob.key, randomBytes(4).toString('hex'));
  try {
    // One try: the store's SDK already retried each request that failed for a passing reason (store/retry.ts).
    const plain = new DigestStream('md5');
    const sha = new DigestStream('sha256');
    const encrypted = await encryptStream((await source.read(blob.key)).pipe(plain), repo.recipients);
    await repo.store.put(objectKey, encrypted.pipe(sha));
    const checksum = plain.digest('base64');
    if (blob.checksum && checksum !== blob.checksum)
      problems.push({ key: blob.key, problem: 'checksum-mismatch' });
    return {
      key: blob.key,
      object: objectKey,
      size: sha.bytes,
      sha256: sha.digest('hex'),
      plainSize: plain.bytes,
      checksum: blob.checksum,
    };
  } catch (error) {
    if (isNotFound(error)) {
      problems.push({ key: blob.key, problem: 'missing' });
      return undefined;
    }
    if (error instanceof UnsafeBlobError) {
      problems.push({ key: blob.key, problem: 'unsafe-path', blobId: blob.id });
      return undefined;
    }
    throw new OperationError(
      `Uploading attachment ${blob.key} to ${repo.store.location} failed: ${errorMessage(error)}`,
      'The backup was not completed; nothing that looks complete was left. Check the repository and run it again.',
    );
  }
}
