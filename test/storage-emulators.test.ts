import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  type RunningServer,
  startAzurite,
  startS3rver,
} from './support/storage-servers.js';

// The storage servers the backup tests use, each carrying a real round trip here.

describe('s3rver (S3-compatible)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startS3rver(['roundtrip']);
  });
  afterAll(async () => server?.stop());

  test('an object written with the AWS SDK reads back byte for byte, and lists across pages', async () => {
    const { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command } = await import(
      '@aws-sdk/client-s3'
    );
    const s3 = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const body = randomBytes(256 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: 'roundtrip', Key: 'a/b/object.bin', Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'roundtrip', Key: 'a/b/object.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);

    for (let i = 0; i < 5; i += 1) {
      await s3.send(new PutObjectCommand({ Bucket: 'roundtrip', Key: `page/${i}`, Body: `item ${i}` }));
    }
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: 'roundtrip',
          Prefix: 'page/',
          MaxKeys: 2,
          ContinuationToken: token,
        }),
      );
      keys.push(...(page.Contents ?? []).map((item) => item.Key!));
      token = page.NextContinuationToken;
    } while (token);
    expect(keys).toEqual(['page/0', 'page/1', 'page/2', 'page/3', 'page/4']);
    s3.destroy();
  });
});

describe('Azurite (Azure Blob emulator)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startAzurite();
  });
  afterAll(async () => server?.stop());

  test('a blob written with the Azure SDK reads back byte for byte', async () => {
    const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
    const service = new BlobServiceClient(
      server.endpoint,
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    );
    const container = service.getContainerClient('roundtrip');
    await container.create();
    const body = randomBytes(300 * 1024);
    await container.getBlockBlobClient('x/y.bin').uploadData(body);
    const downloaded = await container.getBlockBlobClient('x/y.bin').downloadToBuffer();
    expect(downloaded.equals(body)).toBe(true);
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: 'x/' })) names.push(blob.name);
    expect(names).toEqual(['x/y.bin']);
  });
});
