import { layout } from '../../backups/layout.js';
import type { ManifestBody } from '../../backups/manifest.js';

/** A sound manifest body for set `id` of `site`: one dump and one attachment, as createBackup writes it. */
export function manifestBody(id: string, site: string): ManifestBody {
  return {
    format: 'tier4-backup-set/1',
    id,
    site,
    tool: { name: 'tier4', version: '0.1.0' },
    snapshotAt: '2026-11-30T01:00:00.000Z',
    startedAt: '2026-11-30T01:00:00.000Z',
    finishedAt: '2026-11-30T01:00:09.000Z',
    timings: { databaseSeconds: 4.5, attachmentsSeconds: 3.2, totalSeconds: 9 },
    encryption: { scheme: 'age-x25519', recipients: ['age1operator', 'age1recovery'] },
    database: {
      object: layout.dump(site, id),
      size: 2048,
      sha256: 'a'.repeat(64),
      plainSize: 1900,
      format: 'pg_dump-custom',
      name: 'primero',
      serverVersion: '15.8',
      serverMajor: 15,
      pgDumpVersion: '15.8',
      extensions: [{ name: 'pgcrypto', version: '1.3' }],
      rowCounts: { cases: 12, users: 3 },
      latestMigration: null,
      primeroVersion: null,
    },
    attachments: {
      count: 1,
      plainBytes: 10,
      storedBytes: 300,
      uploaded: 1,
      uploadedBytes: 300,
      reused: 0,
      problems: [{ key: 'k2', problem: 'missing', blobId: '7' }],
      blobs: [
        {
          object: layout.blob(site, 'blob0001'),
          size: 300,
          sha256: 'b'.repeat(64),
          key: 'blob0001',
          plainSize: 10,
          checksum: null,
        },
      ],
    },
  };
}
