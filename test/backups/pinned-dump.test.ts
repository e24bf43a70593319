import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { decryptStream, encryptStream, generateIdentity } from '../../backups/crypto/age.js';
import { pinDump, pinnedRead } from '../../backups/pinned-dump.js';
import type { SiteRepository } from '../../backups/site-repository.js';

const collect = async (stream: Readable) => Buffer.concat(await stream.toArray());

/** Feeds the bytes in pieces of a size that does not divide anything, as a socket or a file read might. */
function pieces(bytes: Buffer, size = 4099): Readable {
  return Readable.from(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
      bytes.subarray(i * size, (i + 1) * size),
    ),
    { objectMode: false },
  );
}

/** A repository holding one object, whose content the test may swap between reads. */
function holding(objects: Buffer[]): SiteRepository {
  return { store: { get: async () => pieces(objects.shift()!) } } as unknown as SiteRepository;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('a streamed dump is held to the object that matched its SHA-256', async () => {
  const { identity, recipient } = await generateIdentity();
  const plaintext = randomBytes(300_000);
  const genuine = await collect(await encryptStream(Readable.from([plaintext]), [recipient]));
  // What anyone holding the public recipient can make: a valid age file of their own content.
  const forged = await collect(await encryptStream(Readable.from([randomBytes(300_000)]), [recipient]));
  const record = { object: 'database.dump.age', size: genuine.length, sha256: sha256(genuine) };
  const mismatch = () => new Error('mismatch');

  test('the first read checks size and SHA-256, and pins the header and nonce', async () => {
    const pinned = await pinDump(holding([genuine]), record, mismatch);
    expect(genuine.subarray(0, pinned.length).equals(pinned)).toBe(true);
    expect(pinned.toString('latin1')).toMatch(/^age-encryption\.org\/v1\n[\s\S]*\n--- [^\n]+\n[\s\S]{16}$/);
    await expect(pinDump(holding([forged]), record, mismatch)).rejects.toThrow('mismatch');
    const cut = genuine.subarray(0, genuine.length - 1);
    await expect(pinDump(holding([cut]), record, mismatch)).rejects.toThrow('mismatch');
  });

  test('the same object decrypts through the pin, and is hashed again', async () => {
    const pinned = await pinDump(holding([genuine]), record, mismatch);
    const { stream, cipher } = pinnedRead(pieces(genuine), pinned);
    const plain = await collect(await decryptStream(stream, [identity], 'dump'));
    expect(plain.equals(plaintext)).toBe(true);
    expect(cipher.bytes).toBe(genuine.length);
    expect(cipher.digest('hex')).toBe(record.sha256);
  });

  test('an object swapped after the first read yields no plaintext at all', async () => {
    const pinned = await pinDump(holding([genuine]), record, mismatch);
    const { stream } = pinnedRead(pieces(forged), pinned);
    const released: Buffer[] = [];
    await expect(
      (async () => {
        for await (const part of await decryptStream(stream, [identity], 'dump')) released.push(part);
      })(),
    ).rejects.toThrow();
    expect(released).toEqual([]);
  });

  test('an object with the genuine header but other payload bytes fails at the first chunk that differs', async () => {
    const pinned = await pinDump(holding([genuine]), record, mismatch);
    const tampered = Buffer.from(genuine);
    const at = pinned.length + 70_000; // in the second 64 KiB chunk
    tampered[at] = tampered[at]! ^ 1;
    const { stream } = pinnedRead(pieces(tampered), pinned);
    const released: Buffer[] = [];
    await expect(
      (async () => {
        for await (const part of await decryptStream(stream, [identity], 'dump')) released.push(part);
      })(),
    ).rejects.toThrow(/does not verify/);
    // Only the first chunk, which authenticated under the genuine key, came out: it is the backup's own.
    expect(Buffer.concat(released).equals(plaintext.subarray(0, Buffer.concat(released).length))).toBe(true);
    expect(Buffer.concat(released).length).toBeLessThanOrEqual(64 * 1024);
  });
});
