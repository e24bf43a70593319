import { z } from 'zod';
import { macMatches, macOf } from './crypto/mac.js';

/**
 * The manifest of a backup set: ids, counts, sizes, digests and timestamps only. No record content, no file
 * names, no user names: nothing personal. Written last, carries a MAC.
 */

const storedObject = z.object({
  object: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

const blobRecord = storedObject.extend({
  key: z.string(),
  plainSize: z.number().int().nonnegative(),
  /** active_storage_blobs.checksum: base64 MD5 of the plaintext. */
  checksum: z.string().nullable(),
});

export const manifestBodySchema = z.object({
  format: z.literal('tier4-backup-set/1'),
  id: z.string(),
  site: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
  /** When the database snapshot was taken: the point in time this set restores to. */
  snapshotAt: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  timings: z.object({
    databaseSeconds: z.number(),
    attachmentsSeconds: z.number(),
    totalSeconds: z.number(),
  }),
  encryption: z.object({ scheme: z.literal('age-x25519'), recipients: z.array(z.string()).min(1) }),
  database: storedObject.extend({
    /** The archive pg_dump wrote (what a restore puts on disk), before compression and encryption. */
    plainSize: z.number().int().nonnegative(),
    format: z.literal('pg_dump-custom'),
    /** Compression tier4 applied to the archive before encrypting it; absent when pg_dump compressed it. */
    compression: z.object({ method: z.enum(['brotli', 'zstd']), level: z.number().int() }).optional(),
    name: z.string(),
    serverVersion: z.string(),
    serverMajor: z.number().int(),
    pgDumpVersion: z.string(),
    extensions: z.array(z.object({ name: z.string(), version: z.string() })),
    rowCounts: z.record(z.string(), z.number().int().nonnegative()),
    /**
     * The tables whose rows a restore splits between its connections (decision 0019): the largest at backup.
     * Absent in sets written before it; a restore then splits every table.
     */
    bulkTables: z
      .array(z.object({ schema: z.string(), table: z.string(), largestIndex: z.string().optional() }))
      .optional(),
    latestMigration: z.string().nullable(),
    primeroVersion: z.string().nullable(),
  }),
  attachments: z.object({
    count: z.number().int().nonnegative(),
    plainBytes: z.number().int().nonnegative(),
    storedBytes: z.number().int().nonnegative(),
    uploaded: z.number().int().nonnegative(),
    uploadedBytes: z.number().int().nonnegative(),
    reused: z.number().int().nonnegative(),
    problems: z.array(
      z.object({
        key: z.string(),
        problem: z.enum(['missing', 'checksum-mismatch', 'unsafe-key', 'unsafe-path']),
        /** active_storage_blobs.id, so a blob whose key cannot be trusted is named by something that can. */
        blobId: z.string().optional(),
      }),
    ),
    blobs: z.array(blobRecord),
  }),
});

export const manifestSchema = manifestBodySchema.extend({ mac: z.string().regex(/^[0-9a-f]{64}$/) });

export type ManifestBody = z.infer<typeof manifestBodySchema>;
export type Manifest = z.infer<typeof manifestSchema>;
export type BlobRecord = Manifest['attachments']['blobs'][number];

export function sealManifest(body: ManifestBody, macKey: Buffer): Manifest {
  return { ...body, mac: macOf(macKey, body) };
}

export type ManifestCheck = { ok: true; manifest: Manifest } | { ok: false; reason: string };

/** Parses a stored manifest and checks its MAC. */
export function openManifest(bytes: Buffer, macKeys: readonly Buffer[], expectedId: string): ManifestCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { ok: false, reason: 'manifest is not valid JSON' };
  }
  const result = manifestSchema.safeParse(parsed);
  if (!result.success) return { ok: false, reason: 'manifest does not have the expected shape' };
  const { mac, ...body } = result.data;
  if (!macKeys.some((key) => macMatches(key, body, mac))) {
    return {
      ok: false,
      reason: 'manifest MAC does not match: it was altered, or the integrity key is different',
    };
  }
  if (body.id !== expectedId)
    return { ok: false, reason: `manifest names set ${body.id}, not ${expectedId}` };
  return { ok: true, manifest: result.data };
}

/** Every object a set stores, for verification. */
export function manifestObjects(manifest: Manifest): Array<{ object: string; size: number; sha256: string }> {
  return [manifest.database, ...manifest.attachments.blobs];
}
