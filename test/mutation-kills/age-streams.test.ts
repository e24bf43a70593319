import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { generateHybridIdentity, identityToRecipient } from 'age-encryption';
import { describe, expect, test } from 'vitest';
import { decryptStream, encryptStream, generateIdentity } from '../../backups/crypto/age.js';
import { CHUNK_SIZE } from '../../backups/crypto/age-format.js';

// The streams of backups/crypto/age.ts around the format (test/mutation-kills/age.test.ts covers the format):
// which implementation reads a mix of identities, the stream contract of the age-encryption path, and the
// source being closed when the payload turns out damaged halfway.

const WHAT = 'the test object';

/** The bytes in pieces of 4 KiB, as a file read would give them. */
function source(bytes: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 4096) parts.push(bytes.subarray(at, at + 4096));
  return Readable.from(parts, { objectMode: false });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

describe('age streams', () => {
  test('a post-quantum file read with an X25519 and a post-quantum identity together', async () => {
    const classic = await generateIdentity();
    const hybrid = await generateHybridIdentity();
    const plain = randomBytes(3000);
    const encrypted = await encryptStream(source(plain), [await identityToRecipient(hybrid)]);
    // The age-encryption path keeps the stream contract of the native one: bytes, up to 1 MiB buffered.
    expect([encrypted.readableObjectMode, encrypted.readableHighWaterMark]).toEqual([false, 1 << 20]);
    const sealed = await readAll(encrypted);
    const decrypted = await decryptStream(source(sealed), [classic.identity, hybrid], WHAT);
    expect([decrypted.readableObjectMode, decrypted.readableHighWaterMark]).toEqual([false, 1 << 20]);
    expect(Buffer.compare(await readAll(decrypted), plain)).toBe(0);
  });

  test('a payload damaged halfway: the error, and the source is closed though it was not read to its end', async () => {
    const key = await generateIdentity();
    const sealed = await readAll(await encryptStream(source(randomBytes(8 * CHUNK_SIZE)), [key.recipient]));
    const mac = sealed.indexOf('\n--- ') + 1;
    const payload = sealed.indexOf('\n', mac) + 1 + 16;
    const damaged = Buffer.from(sealed);
    damaged[payload + 10]! ^= 1; // in chunk 0
    const input = source(damaged);
    const plain = await decryptStream(input, [key.identity], WHAT);
    await expect(readAll(plain)).rejects.toThrow(
      `Cannot decrypt ${WHAT}: chunk 0 does not verify: the payload is damaged.`,
    );
    expect(input.readableEnded).toBe(false);
    expect(input.destroyed).toBe(true);
  });
});
