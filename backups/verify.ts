import { execa } from 'execa';
import { mapLimit } from '../core/concurrency.js';
import { errorMessage, OperationError, UsageError } from '../core/errors.js';
import { findPgTool } from '../core/postgres/pg-tools.js';
import { type CatalogEntry, readCatalog } from './catalog.js';
import { decryptStream } from './crypto/age.js';
import { digestOf } from './crypto/digest.js';
import { feedArchive } from './dump-compression.js';
import { layout } from './layout.js';
import { type Manifest, manifestObjects } from './manifest.js';
import type { ProgressListener } from './progress.js';
import type { SiteRepository } from './site-repository.js';
import { sealVerification } from './verification-record.js';

export interface VerifyFailure {
  object: string;
  problem: string;
}

export interface VerifyReport {
  id: string;
  ok: boolean;
  deep: boolean;
  objects: number;
  bytes: number;
  failures: VerifyFailure[];
  /** With --deep: entries in the dump's table of contents, and its TABLE DATA entries. */
  toc?: { entries: number; tableData: number };
  seconds: number;
}

export type FoundSet = CatalogEntry & {
  manifest: Manifest;
  /**
   * What the caller must tell the operator: "latest" fell back past newer sets that cannot be trusted (a
   * tampered newest manifest must never silently turn into an older restore), records that were ignored.
   */
  warnings: string[];
  /** Newer sets that "latest" passed over because their manifests cannot be trusted. */
  skippedUntrusted: Array<{ id: string; problem: string }>;
};

/** The complete, authentic set with this id (or the newest when id is "latest"); a clear error otherwise. */
export async function findSet(repo: SiteRepository, id: string): Promise<FoundSet> {
  const catalog = await readCatalog(repo.store, repo.site, repo.macKeys, repo.state);
  const entry =
    id === 'latest' ? catalog.complete.at(-1) : catalog.complete.find((candidate) => candidate.id === id);
  if (entry?.manifest) {
    const skippedUntrusted =
      id === 'latest'
        ? catalog.invalid
            .filter((candidate) => candidate.time.getTime() > entry.time.getTime())
            .map((candidate) => ({ id: candidate.id, problem: candidate.problem ?? 'untrusted' }))
        : [];
    const warnings = [
      ...skippedUntrusted.map(
        (skipped) =>
          `The newest backup set ${skipped.id} cannot be trusted (${skipped.problem}); using the older set ${entry.id} instead. Find out who or what changed the repository.`,
      ),
      ...catalog.warnings,
    ];
    return { ...(entry as CatalogEntry & { manifest: Manifest }), warnings, skippedUntrusted };
  }
  const invalid = catalog.invalid.find((candidate) => candidate.id === id);
  if (invalid) {
    throw new OperationError(
      `Backup set ${id} cannot be trusted: ${invalid.problem}.`,
      'Do not restore it. Check backups.integrityKey, and who has write access to the repository.',
    );
  }
  if (catalog.incomplete.some((candidate) => candidate.id === id)) {
    throw new UsageError(
      `Backup set ${id} is incomplete (it has no manifest) and cannot be used.`,
      'Pick a complete set from `tier4 backup list`.',
    );
  }
  throw new UsageError(
    id === 'latest'
      ? `Site ${repo.site} has no complete backup set yet.`
      : `No backup set ${id} for site ${repo.site}.`,
    'Run `tier4 backup list` to see the sets.',
  );
}

/**
 * Checks every object's size and SHA-256 against the manifest. Deep: also decrypts the dump and reads its
 * table of contents with pg_restore, and decrypts every attachment against its MD5 checksum.
 */
export async function verifySet(
  repo: SiteRepository,
  id: string,
  options: {
    deep?: boolean;
    identities?: string[];
    signal?: AbortSignal;
    onProgress?: ProgressListener;
    record?: boolean;
    /**
     * Objects only checked for presence and size here, because the caller hashes every byte of them as it
     * consumes them and refuses a mismatch before anything changes (a restore's dump): one read, not two.
     */
    hashedOnUse?: ReadonlySet<string>;
  } = {},
): Promise<VerifyReport> {
  const started = Date.now();
  const entry = await findSet(repo, id);
  const manifest = entry.manifest;
  const deep = options.deep === true;
  if (deep && !options.identities) throw new UsageError('Deep verification needs the age identity.');
  const objects = manifestObjects(manifest);
  const failures: VerifyFailure[] = [];
  let done = 0;
  let bytes = 0;
  await mapLimit(
    objects,
    4,
    async (object) => {
      try {
        const sizeOnly = options.hashedOnUse?.has(object.object) === true;
        const read = sizeOnly
          ? { bytes: await repo.store.head(object.object), digest: undefined }
          : await digestOf(await repo.store.get(object.object));
        if (read.bytes === undefined) failures.push({ object: object.object, problem: 'missing' });
        else if (read.bytes !== object.size)
          failures.push({ object: object.object, problem: `size ${read.bytes}, expected ${object.size}` });
        else if (!sizeOnly && read.digest !== object.sha256)
          failures.push({ object: object.object, problem: 'SHA-256 does not match the manifest' });
        if (!sizeOnly) bytes += read.bytes ?? 0;
      } catch (error) {
        failures.push({
          object: object.object,
          problem: `cannot be read: ${errorMessage(error)}`,
        });
      }
      done += 1;
      options.onProgress?.({ phase: 'verify', done, total: objects.length, bytes });
    },
    options.signal,
  );
  let toc: VerifyReport['toc'];
  if (deep && failures.length === 0) {
    toc = await readDumpToc(repo, manifest, options.identities!, failures);
    await mapLimit(
      manifest.attachments.blobs,
      4,
      async (blob) => {
        const plain = await decryptStream(
          await repo.store.get(blob.object),
          options.identities!,
          blob.object,
        );
        const { bytes: size, digest } = await digestOf(plain, 'md5', 'base64');
        if (size !== blob.plainSize || (blob.checksum && digest !== blob.checksum)) {
          failures.push({
            object: blob.object,
            problem: 'decrypted content does not match active_storage_blobs.checksum',
          });
        }
      },
      options.signal,
    );
  }
  const report: VerifyReport = {
    id: manifest.id,
    ok: failures.length === 0,
    deep,
    objects: objects.length,
    bytes,
    failures,
    ...(toc ? { toc } : {}),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  if (options.record !== false) {
    const at = new Date();
    await repo.state
      .putBytes(
        layout.verification(repo.site, manifest.id, at),
        sealVerification(
          {
            format: 'tier4-verification/1',
            set: manifest.id,
            at: at.toISOString(),
            deep,
            ok: report.ok,
            failures: failures.length,
          },
          repo.macKey,
        ),
      )
      .catch(() => undefined); // an immutable or read-only repository still verifies
  }
  return report;
}

async function readDumpToc(
  repo: SiteRepository,
  manifest: Manifest,
  identities: string[],
  failures: VerifyFailure[],
): Promise<{ entries: number; tableData: number }> {
  const pgRestore = await findPgTool('pg_restore', repo.env);
  const plain = await decryptStream(
    await repo.store.get(manifest.database.object),
    identities,
    manifest.database.object,
  );
  const child = execa(pgRestore.path, ['--list'], {
    stdin: 'pipe',
    reject: false,
    buffer: true,
    maxBuffer: 64 * 1024 * 1024,
  });
  child.stdin!.on('error', () => {});
  // pg_restore stops reading once it has the TOC: the feed then ends early, which is no failure of the dump.
  const fed = feedArchive(plain, manifest.database.compression, child.stdin!, repo.env).then(
    () => undefined,
    (error: unknown) => error,
  );
  const result = await child;
  if (result.exitCode !== 0) {
    // Waited for, so the message does not depend on which process ended first. A decompressor that cannot
    // run (zstd missing or too old) is the cause; otherwise pg_restore's own last line says what it could not read.
    const feedFailure = await fed;
    const cause =
      feedFailure instanceof UsageError
        ? errorMessage(feedFailure)
        : String(result.stderr).trim().split('\n').at(-1);
    failures.push({ object: manifest.database.object, problem: `pg_restore cannot read the dump: ${cause}` });
    return { entries: 0, tableData: 0 };
  }
  const lines = String(result.stdout)
    .split('\n')
    .filter((line) => /^\d+;/.test(line));
  return { entries: lines.length, tableData: lines.filter((line) => line.includes(' TABLE DATA ')).length };
}
