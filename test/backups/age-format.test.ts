import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Decrypter, Encrypter } from 'age-encryption';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { decryptStream, encryptStream, generateIdentity } from '../../backups/crypto/age.js';
import { CHUNK_SIZE } from '../../backups/crypto/age-format.js';

/** Sizes around the 64 KiB chunk boundaries, where STREAM's final-chunk rule bites. */
const SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 1_000_003];

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

/** Feeds the bytes in uneven pieces, as a socket or pg_dump's pipe would. */
function pieces(bytes: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let at = 0, n = 1; at < bytes.length; n = (n * 7 + 13) % 100_003) {
    parts.push(bytes.subarray(at, at + n));
    at += n;
  }
  return Readable.from(parts, { objectMode: false });
}

const encrypt = async (plain: Buffer, recipients: string[]) =>
  collect(await encryptStream(pieces(plain), recipients));
const decrypt = async (sealed: Buffer, identities: string[]) =>
  collect(await decryptStream(pieces(sealed), identities, 'the test object'));

describe('age v1 on native crypto', () => {
  test('the age CLI and the age-encryption package read what we write, and we read what they write', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-age-'));
    const key = await generateIdentity();
    await writeFile(join(dir, 'identity.txt'), `${key.identity}\n`, { mode: 0o600 });
    for (const size of SIZES) {
      const plain = randomBytes(size);
      // ours → age CLI
      const ours = await encrypt(plain, [key.recipient]);
      await writeFile(join(dir, 'ours.age'), ours);
      // stripFinalNewline: execa strips a final 0x0a even from binary output (1 run in 256 per size failed).
      const cli = await execa('age', ['-d', '-i', join(dir, 'identity.txt'), join(dir, 'ours.age')], {
        encoding: 'buffer',
        stripFinalNewline: false,
      });
      expect(Buffer.compare(Buffer.from(cli.stdout), plain), `age -d of ${size} bytes`).toBe(0);
      // ours → package
      const decrypter = new Decrypter();
      decrypter.addIdentity(key.identity);
      expect(Buffer.compare(Buffer.from(await decrypter.decrypt(ours)), plain)).toBe(0);
      // age CLI → ours
      await writeFile(join(dir, 'plain'), plain);
      await execa('age', ['-e', '-r', key.recipient, '-o', join(dir, 'cli.age'), join(dir, 'plain')]);
      const fromCli = await decrypt(await readFile(join(dir, 'cli.age')), [key.identity]);
      expect(Buffer.compare(fromCli, plain), `ours of age -e, ${size} bytes`).toBe(0);
      // package → ours
      const encrypter = new Encrypter();
      encrypter.addRecipient(key.recipient);
      const fromPackage = await decrypt(Buffer.from(await encrypter.encrypt(plain)), [key.identity]);
      expect(Buffer.compare(fromPackage, plain)).toBe(0);
    }
  });

  test('every recipient can decrypt: the recovery key is never dropped', async () => {
    const operator = await generateIdentity();
    const recovery = await generateIdentity();
    const plain = randomBytes(200_000);
    const sealed = await encrypt(plain, [operator.recipient, recovery.recipient]);
    expect(Buffer.compare(await decrypt(sealed, [operator.identity]), plain)).toBe(0);
    expect(Buffer.compare(await decrypt(sealed, [recovery.identity]), plain)).toBe(0);
    const stranger = await generateIdentity();
    await expect(decrypt(sealed, [stranger.identity])).rejects.toThrow(/not one of the backup's recipients/);
  });

  test('damage anywhere is refused: header MAC, a payload byte, a dropped final chunk, a cut inside a chunk', async () => {
    const key = await generateIdentity();
    const plain = randomBytes(2 * CHUNK_SIZE);
    const sealed = await encrypt(plain, [key.recipient]);
    const headerEnd =
      sealed.indexOf('\n--- ') + 1 + sealed.subarray(sealed.indexOf('\n--- ') + 1).indexOf('\n') + 1;

    const badMac = Buffer.from(sealed);
    badMac.writeUInt8(badMac.readUInt8(headerEnd - 3) === 0x41 ? 0x42 : 0x41, headerEnd - 3);
    await expect(decrypt(badMac, [key.identity])).rejects.toThrow(
      /Cannot decrypt the test object: .*(MAC|base64)/,
    );

    const flipped = Buffer.from(sealed);
    flipped.writeUInt8(flipped.readUInt8(headerEnd + 16 + 100) ^ 1, headerEnd + 16 + 100);
    await expect(decrypt(flipped, [key.identity])).rejects.toThrow(/chunk 0 does not verify/);

    // Two full chunks: dropping the final one leaves a valid non-final chunk, which must not pass as the end.
    const sealedChunk = CHUNK_SIZE + 16;
    const dropped = sealed.subarray(0, sealed.length - sealedChunk);
    await expect(decrypt(dropped, [key.identity])).rejects.toThrow(/final chunk does not verify/);
    await expect(decrypt(sealed.subarray(0, sealed.length - 10), [key.identity])).rejects.toThrow(
      /does not verify/,
    );
    await expect(decrypt(sealed.subarray(0, headerEnd - 5), [key.identity])).rejects.toThrow(
      /inside the header/,
    );
    expect(Buffer.compare(await decrypt(sealed, [key.identity]), plain)).toBe(0);
  });
});
