import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backupSite, restoreArgs, scratchDatabaseUrl } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  type RunningServer,
  startAzurite,
  startS3rver,
} from '../support/storage-servers.js';

/**
 * Attachments kept by Primero's amazon/minio and microsoft storage services: read from the bucket or container
 * for the backup, and written back there by a restore, byte for byte.
 */
async function s3Client(endpoint: string) {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

describe('attachments in an S3-compatible bucket (s3rver)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startS3rver(['primero-attachments']);
  });
  afterAll(async () => server?.stop());

  test('are backed up from the bucket and restored into it, byte for byte', async () => {
    const site = await backupSite({
      blobs: 6,
      attachments: {
        type: 's3',
        bucket: 'primero-attachments',
        endpoint: server.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: { env: 'T4_ATT_KEY' }, secretAccessKey: { env: 'T4_ATT_SECRET' } },
      },
      attachmentsEnv: { T4_ATT_KEY: 'S3RVER', T4_ATT_SECRET: 'S3RVER' },
    });
    const { PutObjectCommand, DeleteObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = await s3Client(server.endpoint);
    // Primero's S3 service keys objects by the blob key.
    for (const blob of site.db.blobs) {
      await s3.send(
        new PutObjectCommand({
          Bucket: 'primero-attachments',
          Key: blob.key,
          Body: await readFile(blob.path),
        }),
      );
    }
    const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    expect(created.code, created.stderr).toBe(0);
    const set = JSON.parse(created.stdout);
    expect(set.attachments).toMatchObject({ count: 6, uploaded: 6 });
    expect(set.problems).toEqual([]);

    for (const blob of site.db.blobs)
      await s3.send(new DeleteObjectCommand({ Bucket: 'primero-attachments', Key: blob.key }));
    const restored = await tier4(
      restoreArgs(site, set.id, scratchDatabaseUrl(), '--attachments-to', 's3://primero-attachments'),
      {
        env: site.env,
      },
    );
    expect(restored.code, restored.stderr).toBe(0);
    for (const blob of site.db.blobs) {
      const object = await s3.send(new GetObjectCommand({ Bucket: 'primero-attachments', Key: blob.key }));
      const bytes = Buffer.from(await object.Body!.transformToByteArray());
      expect(bytes.equals(await readFile(blob.path)), blob.key).toBe(true);
    }
    s3.destroy();
  });
});

describe('attachments in an Azure Blob container (Azurite)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAzurite();
  });
  afterAll(async () => server?.stop());

  test('are backed up from the container and restored into it, byte for byte; a missing one is reported', async () => {
    const site = await backupSite({
      blobs: 5,
      attachments: {
        type: 'azure',
        account: AZURITE_ACCOUNT,
        container: 'attachments',
        key: { env: 'T4_ATT_AZ_KEY' },
        endpoint: server.endpoint,
      },
      attachmentsEnv: { T4_ATT_AZ_KEY: AZURITE_KEY },
    });
    const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
    const container = new BlobServiceClient(
      server.endpoint,
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).getContainerClient('attachments');
    await container.create();
    // Primero's microsoft service names blobs by their key; one is missing from storage.
    const [missing, ...present] = site.db.blobs;
    for (const blob of present) {
      const bytes = await readFile(blob.path);
      await container.getBlockBlobClient(blob.key).upload(bytes, bytes.length);
    }
    const created = await tier4(['--json', '-c', site.configPath, 'backup', 'create', '--site', site.site], {
      env: site.env,
    });
    expect(created.code).toBe(1); // the set is complete, but a problem was found
    const set = JSON.parse(created.stdout);
    expect(set.problems).toEqual([{ key: missing!.key, problem: 'missing' }]);
    expect(set.attachments.count).toBe(4);

    for (const blob of present) await container.getBlobClient(blob.key).delete();
    const restored = await tier4(
      restoreArgs(
        site,
        set.id,
        scratchDatabaseUrl(),
        '--attachments-to',
        `azblob://${AZURITE_ACCOUNT}/attachments`,
      ),
      { env: site.env },
    );
    expect(restored.code, restored.stderr).toBe(0);
    for (const blob of present) {
      const bytes = await container.getBlobClient(blob.key).downloadToBuffer();
      expect(bytes.equals(await readFile(blob.path)), blob.key).toBe(true);
    }
  });
});
