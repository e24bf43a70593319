import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { inflateSync } from 'node:zlib';
import { bech32 } from '@scure/base';
import { Decrypter, Encrypter, generateHybridIdentity, identityToRecipient } from 'age-encryption';
// The age test vectors of C2SP's CCTV project (c2sp.org/CCTV/age, npm package cctv-age): each is a textual
// header (expect, payload sha256, identity, compressed…), an empty line, then the age file.
import * as CCTV from 'cctv-age';
import { describe, expect, test } from 'vitest';
import { decryptStream, encryptStream, generateIdentity } from '../../backups/crypto/age.js';
import {
  AgeFormatError,
  CHUNK_SIZE,
  headerLength,
  readHeader,
  x25519Identity,
  x25519Recipient,
} from '../../backups/crypto/age-format.js';
import { OperationError } from '../../core/errors.js';

// The age v1 format (backups/crypto/age-format.ts) and the streams over it (backups/crypto/age.ts), against
// the format's published test vectors, an independent implementation (the age-encryption package, in this
// process) and hand-made damage to every field. Exact outcomes and messages.

const WHAT = 'the test object';
const HINT_DAMAGED = 'The object may be damaged; run `tier4 backup verify`.';
const NOT_OURS = `The age identity cannot decrypt ${WHAT}: it is not one of the backup's recipients.`;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const TAG = 16;

/** Feeds bytes in uneven pieces (1 byte first, then growing), as a socket or a pipe would. */
function pieces(bytes: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let at = 0, n = 1; at < bytes.length; n = (n * 7 + 13) % 100_003) {
    parts.push(bytes.subarray(at, at + n));
    at += n;
  }
  return Readable.from(parts, { objectMode: false });
}

/** Everything a stream released, and the error that ended it (if any). */
async function drain(stream: Readable): Promise<{ plain: Buffer; error: unknown }> {
  const parts: Buffer[] = [];
  try {
    for await (const part of stream) parts.push(Buffer.from(part));
    return { plain: Buffer.concat(parts), error: undefined };
  } catch (error) {
    return { plain: Buffer.concat(parts), error };
  }
}

async function encrypt(plain: Buffer, recipients: string[]): Promise<Buffer> {
  const { plain: sealed, error } = await drain(await encryptStream(pieces(plain), recipients));
  if (error) throw error;
  return sealed;
}

async function decrypt(sealed: Buffer, identities: string[]): Promise<Buffer> {
  const { plain, error } = await drain(await decryptStream(pieces(sealed), identities, WHAT));
  if (error) throw error;
  return plain;
}

/** What decryptStream did: refused at the header (fails fast), or streamed and maybe failed later. */
async function outcome(sealed: Buffer, identities: string[]) {
  let stream: Readable;
  try {
    stream = await decryptStream(pieces(sealed), identities, WHAT);
  } catch (error) {
    return { at: 'header' as const, error: error as OperationError, plain: Buffer.alloc(0) };
  }
  const { plain, error } = await drain(stream);
  return { at: error ? ('payload' as const) : ('end' as const), error: error as OperationError, plain };
}

/** The independent implementation's decryption (age-encryption, pure JS). */
async function packageDecrypt(sealed: Buffer, identity: string): Promise<Buffer> {
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  return Buffer.from(await decrypter.decrypt(sealed));
}

/** Where the header ends (after the MAC line's newline) and the payload (nonce, chunks) begins. */
function headerEnd(sealed: Buffer): number {
  const mac = sealed.indexOf('\n--- ') + 1;
  return sealed.indexOf('\n', mac) + 1;
}

interface Vector {
  name: string;
  expect: string;
  payload: string | undefined;
  identities: string[];
  file: Buffer;
}

function vectors(): Vector[] {
  const all: Vector[] = [];
  for (const [name, raw] of Object.entries(CCTV as unknown as Record<string, Uint8Array>)) {
    // Armor, passphrases (scrypt) and post-quantum (hybrid) stanzas are not part of tier4's native reader.
    if (/^(armor|scrypt|hybrid)/.test(name)) continue;
    const bytes = Buffer.from(raw);
    const split = bytes.indexOf('\n\n');
    const lines = bytes.subarray(0, split).toString('utf8').split('\n');
    const values = (key: string) =>
      lines.filter((line) => line.startsWith(`${key}: `)).map((line) => line.slice(key.length + 2));
    const body = bytes.subarray(split + 2);
    all.push({
      name,
      expect: values('expect')[0]!,
      payload: values('payload')[0],
      identities: values('identity'),
      file: values('compressed')[0] === 'zlib' ? inflateSync(body) : body,
    });
  }
  return all;
}

/**
 * The message each failing vector gets ("Cannot decrypt the test object: <this>."). Where tier4 stops earlier
 * than the vector's `expect` says, the comment says why that is still the refusal the vector asks for.
 */
const HEADER_REFUSALS: Record<string, string> = {
  empty: 'invalid version line', // no identity in the vector: the age-encryption package reads it
  header_crlf: 'it is not an age v1 file',
  hmac_bad: 'the header MAC does not verify',
  hmac_extra_space: 'the header MAC is not unpadded base64',
  hmac_garbage: 'the header MAC has the wrong length',
  hmac_missing: 'the header MAC has the wrong length',
  hmac_no_space: 'it ends inside the header', // "---" without a space is no MAC line: the header never ends
  hmac_not_canonical: 'the header MAC is not canonical base64',
  hmac_trailing_space: 'the header MAC is not unpadded base64',
  hmac_truncated: 'the header MAC has the wrong length',
  stanza_bad_start: 'the header is malformed',
  stanza_base64_padding: 'a stanza body is not unpadded base64',
  stanza_empty_argument: 'a stanza has a bad argument',
  stanza_invalid_character: 'a stanza has a bad argument',
  stanza_long_line: 'a stanza body line is longer than 64 columns',
  stanza_missing_body: 'a stanza body is cut short',
  stanza_missing_final_line: 'a stanza body is cut short',
  stanza_multiple_short_lines: 'the header is malformed',
  stanza_no_arguments: 'the header is malformed',
  stanza_not_canonical: 'a stanza body is not canonical base64',
  stanza_spurious_cr: 'a stanza body is cut short',
  version_unsupported: 'it is not an age v1 file',
  x25519_extra_argument: 'an X25519 stanza has the wrong arguments',
  x25519_identity: 'an X25519 share is a low-order point',
  x25519_long_file_key: 'an X25519 stanza has the wrong length',
  x25519_long_share: 'an X25519 stanza has the wrong length',
  x25519_low_order: 'an X25519 share is a low-order point',
  x25519_not_canonical_body: 'a stanza body is not canonical base64',
  x25519_not_canonical_share: 'an X25519 share is not canonical base64',
  x25519_short_share: 'an X25519 stanza has the wrong length',
};

const FINAL = 'the final chunk does not verify: the file is damaged or cut short';
/**
 * Payload failures. tier4 holds a whole chunk back until it knows whether more follows (only the last chunk may
 * carry the final flag), so a final chunk followed by more bytes fails as a non-final chunk, and a file that
 * ends on a full non-final chunk releases one chunk less than the vector's reference reader: it releases less
 * plaintext, never more. `released: false` marks those, whose released plaintext is not the vector's.
 */
const PAYLOAD_REFUSALS: Record<string, { message: string; released?: false }> = {
  stream_bad_tag: { message: FINAL },
  stream_bad_tag_second_chunk: { message: FINAL },
  stream_bad_tag_second_chunk_full: { message: FINAL },
  stream_last_chunk_empty: { message: 'the final chunk is empty' },
  stream_missing_tag: { message: FINAL },
  stream_no_chunks: { message: FINAL },
  stream_no_final: { message: FINAL },
  stream_no_final_full: { message: FINAL, released: false },
  stream_no_final_two_chunks: { message: FINAL },
  stream_no_final_two_chunks_full: { message: FINAL, released: false },
  // CCTV calls a missing or short payload nonce a header failure; tier4 reads the nonce with the payload.
  stream_no_nonce: { message: 'the payload nonce is missing: the file is cut short', released: false },
  stream_short_nonce: { message: 'the payload nonce is missing: the file is cut short', released: false },
  stream_short_chunk: { message: FINAL },
  stream_short_second_chunk: { message: FINAL },
  stream_trailing_garbage_long: {
    message: 'chunk 0 does not verify: the payload is damaged',
    released: false,
  },
  stream_trailing_garbage_short: {
    message: 'chunk 0 does not verify: the payload is damaged',
    released: false,
  },
  stream_two_final_chunks: { message: 'chunk 0 does not verify: the payload is damaged', released: false },
  stream_two_final_chunks_full: {
    message: 'chunk 0 does not verify: the payload is damaged',
    released: false,
  },
  stream_two_final_chunks_second: {
    message: 'chunk 1 does not verify: the payload is damaged',
    released: false,
  },
  stream_two_final_chunks_short: { message: FINAL },
};

describe('the C2SP age test vectors (X25519, header, STREAM)', () => {
  const all = vectors();

  test('the set read is the one this table describes', () => {
    const named = all.map((vector) => vector.name).sort();
    expect(named.length).toBe(67);
    const failing = all.filter((vector) => vector.expect !== 'success').map((vector) => vector.name);
    expect(failing.sort()).toEqual(
      [
        ...Object.keys(HEADER_REFUSALS),
        ...Object.keys(PAYLOAD_REFUSALS),
        'x25519_bad_tag',
        'x25519_lowercase',
        'x25519_no_match',
      ].sort(),
    );
  });

  test.each(all.filter((vector) => vector.expect === 'success'))(
    '$name decrypts to the expected payload',
    async (vector) => {
      const result = await outcome(vector.file, vector.identities);
      expect(result.error).toBeUndefined();
      expect(sha256(result.plain)).toBe(vector.payload);
    },
  );

  test.each(all.filter((vector) => vector.expect === 'no match'))(
    '$name: no stanza opens with the identity',
    async (vector) => {
      const result = await outcome(vector.file, vector.identities);
      expect(result.at).toBe('header');
      expect(result.error).toBeInstanceOf(OperationError);
      expect(result.error.message).toBe(NOT_OURS);
      expect(result.error.hint).toBe(
        'Use the identity whose public key is listed in backups.encryption.recipients when the backup was taken.',
      );
    },
  );

  test.each(Object.entries(HEADER_REFUSALS))('%s is refused while reading the header', async (name, why) => {
    const vector = all.find((candidate) => candidate.name === name)!;
    expect(['header failure', 'HMAC failure']).toContain(vector.expect);
    const result = await outcome(vector.file, vector.identities);
    expect(result.at).toBe('header');
    expect(result.error).toBeInstanceOf(OperationError);
    expect(result.error.message).toBe(`Cannot decrypt ${WHAT}: ${why}.`);
    expect(result.error.hint).toBe(HINT_DAMAGED);
  });

  test.each(Object.entries(PAYLOAD_REFUSALS))(
    '%s fails while streaming, after releasing only verified plaintext',
    async (name, refusal) => {
      const vector = all.find((candidate) => candidate.name === name)!;
      const result = await outcome(vector.file, vector.identities);
      expect(result.at).toBe('payload');
      expect(result.error).toBeInstanceOf(OperationError);
      expect(result.error.message).toBe(`Cannot decrypt ${WHAT}: ${refusal.message}.`);
      expect(result.error.hint).toBe(HINT_DAMAGED);
      if (refusal.released !== false) expect(sha256(result.plain)).toBe(vector.payload);
      // Whole chunks only: nothing of the chunk that failed.
      expect(result.plain.length % CHUNK_SIZE).toBe(0);
    },
  );
});

describe('what tier4 writes', () => {
  /** Sizes around the 64 KiB chunk boundary, where the final-chunk rule bites. */
  const SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 5];

  test.each(SIZES)(
    '%i bytes: one final chunk at the end (full if it must be), read by the age-encryption package and by tier4',
    async (size) => {
      const key = await generateIdentity();
      const plain = randomBytes(size);
      const sealed = await encrypt(plain, [key.recipient]);
      const chunks = Math.max(1, Math.ceil(size / CHUNK_SIZE));
      expect(sealed.length - headerEnd(sealed)).toBe(16 + size + chunks * TAG);
      expect(Buffer.compare(await packageDecrypt(sealed, key.identity), plain)).toBe(0);
      expect(Buffer.compare(await decrypt(sealed, [key.identity]), plain)).toBe(0);
    },
  );

  test('the header: the version line, one X25519 stanza per recipient in order, each with its own share, then the MAC', async () => {
    const keys = [await generateIdentity(), await generateIdentity(), await generateIdentity()];
    const sealed = await encrypt(
      Buffer.from('child protection case 42'),
      keys.map((key) => key.recipient),
    );
    const lines = sealed
      .subarray(0, headerEnd(sealed) - 1)
      .toString('latin1')
      .split('\n');
    expect(lines[0]).toBe('age-encryption.org/v1');
    expect(lines.length).toBe(1 + 2 * keys.length + 1);
    const shares = new Set<string>();
    for (let i = 0; i < keys.length; i++) {
      const [arrow, type, share, ...extra] = lines[1 + 2 * i]!.split(' ');
      expect([arrow, type, extra]).toEqual(['->', 'X25519', []]);
      expect(share).toMatch(/^[A-Za-z0-9+/]{43}$/); // 32 bytes, unpadded
      shares.add(share!);
      expect(lines[2 + 2 * i]).toMatch(/^[A-Za-z0-9+/]{43}$/); // the wrapped 16-byte key and its tag
    }
    expect(shares.size).toBe(keys.length); // a fresh ephemeral share per stanza
    expect(lines.at(-1)).toMatch(/^--- [A-Za-z0-9+/]{43}$/);
    // Each recipient's stanza opens with its own identity (the package reads it with that identity alone).
    for (const key of keys) {
      expect((await packageDecrypt(sealed, key.identity)).toString()).toBe('child protection case 42');
    }
    // Two files to the same recipient share nothing: another share, another file key, another nonce.
    const again = await encrypt(Buffer.from('child protection case 42'), [keys[0]!.recipient]);
    const first = await encrypt(Buffer.from('child protection case 42'), [keys[0]!.recipient]);
    expect(again.subarray(headerEnd(again)).equals(first.subarray(headerEnd(first)))).toBe(false);
  });

  test('every recipient can decrypt the whole file: the recovery key is never dropped', async () => {
    const operator = await generateIdentity();
    const recovery = await generateIdentity();
    const plain = randomBytes(CHUNK_SIZE * 2 + 7);
    const sealed = await encrypt(plain, [operator.recipient, recovery.recipient]);
    expect(Buffer.compare(await decrypt(sealed, [operator.identity]), plain)).toBe(0);
    expect(Buffer.compare(await decrypt(sealed, [recovery.identity]), plain)).toBe(0);
    expect(Buffer.compare(await packageDecrypt(sealed, recovery.identity), plain)).toBe(0);
    // With several identities, the one that matches is found whichever comes first.
    const stranger = await generateIdentity();
    expect(Buffer.compare(await decrypt(sealed, [stranger.identity, recovery.identity]), plain)).toBe(0);
    expect(Buffer.compare(await decrypt(sealed, [recovery.identity, stranger.identity]), plain)).toBe(0);
    const result = await outcome(sealed, [stranger.identity]);
    expect([result.at, result.error.message]).toEqual(['header', NOT_OURS]);
  });

  test('the streams are byte streams that buffer up to 1 MiB', async () => {
    const key = await generateIdentity();
    const encrypted = await encryptStream(pieces(Buffer.from('x')), [key.recipient]);
    expect([encrypted.readableObjectMode, encrypted.readableHighWaterMark]).toEqual([false, 1 << 20]);
    const sealed = await encrypt(Buffer.from('x'), [key.recipient]);
    const decrypted = await decryptStream(pieces(sealed), [key.identity], WHAT);
    expect([decrypted.readableObjectMode, decrypted.readableHighWaterMark]).toEqual([false, 1 << 20]);
    expect((await drain(decrypted)).plain.toString()).toBe('x');
  });
});

describe('damage to what tier4 wrote', () => {
  async function sealedFile(size = 2 * CHUNK_SIZE + 100) {
    const key = await generateIdentity();
    const plain = randomBytes(size);
    const sealed = await encrypt(plain, [key.recipient]);
    return { key, plain, sealed, end: headerEnd(sealed) };
  }
  const SEALED_CHUNK = CHUNK_SIZE + TAG;

  test('each header field: version, stanza type, share, wrapped key, MAC, and a stanza added', async () => {
    const { key, sealed, end } = await sealedFile(10);
    const header = sealed.subarray(0, end).toString('latin1');
    const payload = sealed.subarray(end);
    const [version, stanza, body, mac] = header.slice(0, -1).split('\n') as [string, string, string, string];
    const rebuilt = (lines: string[]) =>
      Buffer.concat([Buffer.from(`${lines.join('\n')}\n`, 'latin1'), payload]);
    const flip = (text: string, at: number) =>
      `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
    const refusal = async (lines: string[]) => {
      const result = await outcome(rebuilt(lines), [key.identity]);
      expect(result.at).toBe('header');
      return result.error.message;
    };
    const damaged = (why: string) => `Cannot decrypt ${WHAT}: ${why}.`;

    expect(await refusal(['age-encryption.org/v2', stanza, body, mac])).toBe(
      damaged('it is not an age v1 file'),
    );
    // Another recipient type is skipped; with no X25519 stanza left, nothing matches.
    expect(await refusal([version, stanza.replace('X25519', 'X25518'), body, mac])).toBe(NOT_OURS);
    expect(await refusal([version, flip(stanza, 12), body, mac])).toBe(NOT_OURS);
    expect(await refusal([version, stanza, flip(body, 5), mac])).toBe(NOT_OURS);
    expect(await refusal([version, stanza, body, flip(mac, 6)])).toBe(
      damaged('the header MAC does not verify'),
    );
    expect(await refusal([version, '-> grease x', '', stanza, body, mac])).toBe(
      damaged('the header MAC does not verify'),
    );
    expect(await refusal([version, stanza, body])).toBe(damaged('it ends inside the header'));
    expect(await refusal([version, mac])).toBe(damaged('the header is malformed'));
    expect(await refusal([version, stanza, body, 'garbage', mac])).toBe(damaged('the header is malformed'));
    expect(await refusal([version, `${stanza} extra`, body, mac])).toBe(
      damaged('an X25519 stanza has the wrong arguments'),
    );
    expect(await refusal([version, '-> X25519', body, mac])).toBe(
      damaged('an X25519 stanza has the wrong arguments'),
    );
    expect(await refusal([version, '-> X25519 AAAA', body, mac])).toBe(
      damaged('an X25519 stanza has the wrong length'),
    );
    expect(await refusal([version, stanza, 'AAAA', mac])).toBe(
      damaged('an X25519 stanza has the wrong length'),
    );
    expect(await refusal([version, stanza, `${body}=`, mac])).toBe(
      damaged('a stanza body is not unpadded base64'),
    );
    expect(await refusal([version, '-> X25519 a\tb', body, mac])).toBe(
      damaged('a stanza has a bad argument'),
    );
    expect(await refusal([version, `-> X25519 ${'é'}`, body, mac])).toBe(
      damaged('a stanza has a bad argument'),
    );
    // The untouched file still opens.
    expect((await outcome(rebuilt([version, stanza, body, mac]), [key.identity])).at).toBe('end');
  });

  test('a stanza body of exactly 64 columns needs an empty line after it; a longer line is refused', async () => {
    const { key, sealed, end } = await sealedFile(10);
    const payload = sealed.subarray(end);
    const [version, , , mac] = sealed
      .subarray(0, end - 1)
      .toString('latin1')
      .split('\n') as string[];
    const full = 'A'.repeat(64);
    const header = (lines: string[]) => Buffer.concat([Buffer.from(`${lines.join('\n')}\n`), payload]);
    // A grease stanza (another type) with a 64-column line and the empty final line parses; only the MAC fails.
    const greased = await outcome(header([version!, '-> grease', full, '', mac!]), [key.identity]);
    expect(greased.error.message).toBe(NOT_OURS);
    const unended = await outcome(header([version!, '-> grease', full, mac!]), [key.identity]);
    expect(unended.error.message).toBe(`Cannot decrypt ${WHAT}: a stanza body is cut short.`);
    const long = await outcome(header([version!, '-> grease', `${full}A`, '', mac!]), [key.identity]);
    expect(long.error.message).toBe(`Cannot decrypt ${WHAT}: a stanza body line is longer than 64 columns.`);
  });

  test('a payload byte, the order of chunks, truncation at and inside a chunk, trailing bytes', async () => {
    const { key, plain, sealed, end } = await sealedFile();
    const nonceEnd = end + 16;
    const refusedAt = async (bytes: Buffer) => {
      const result = await outcome(bytes, [key.identity]);
      expect(result.at).toBe('payload');
      return { message: result.error.message, released: result.plain.length };
    };
    const damaged = (why: string) => `Cannot decrypt ${WHAT}: ${why}.`;

    const flipped = Buffer.from(sealed);
    flipped[nonceEnd + SEALED_CHUNK + 3]! ^= 1; // in chunk 1
    // Chunk 0 verified, but the stream may end with the error before it is read: never more than chunk 0.
    const afterFlip = await refusedAt(flipped);
    expect(afterFlip.message).toBe(damaged('chunk 1 does not verify: the payload is damaged'));
    expect([0, CHUNK_SIZE]).toContain(afterFlip.released);
    const badNonce = Buffer.from(sealed);
    badNonce[end + 3]! ^= 1;
    expect(await refusedAt(badNonce)).toEqual({
      message: damaged('chunk 0 does not verify: the payload is damaged'),
      released: 0,
    });
    const swapped = Buffer.concat([
      sealed.subarray(0, nonceEnd),
      sealed.subarray(nonceEnd + SEALED_CHUNK, nonceEnd + 2 * SEALED_CHUNK),
      sealed.subarray(nonceEnd, nonceEnd + SEALED_CHUNK),
      sealed.subarray(nonceEnd + 2 * SEALED_CHUNK),
    ]);
    expect((await refusedAt(swapped)).message).toBe(
      damaged('chunk 0 does not verify: the payload is damaged'),
    );
    // Cut after a whole chunk: what is left is a valid non-final chunk, which must not pass as the end.
    expect(await refusedAt(sealed.subarray(0, nonceEnd + 2 * SEALED_CHUNK))).toEqual({
      message: damaged(FINAL),
      released: CHUNK_SIZE,
    });
    expect(await refusedAt(sealed.subarray(0, sealed.length - 1))).toEqual({
      message: damaged(FINAL),
      released: 2 * CHUNK_SIZE,
    });
    expect((await refusedAt(sealed.subarray(0, nonceEnd + TAG - 1))).message).toBe(damaged(FINAL));
    expect((await refusedAt(sealed.subarray(0, end + 15))).message).toBe(
      damaged('the payload nonce is missing: the file is cut short'),
    );
    expect((await refusedAt(sealed.subarray(0, end))).message).toBe(
      damaged('the payload nonce is missing: the file is cut short'),
    );
    expect((await refusedAt(Buffer.concat([sealed, Buffer.from([0])]))).message).toBe(damaged(FINAL));
    const result = await outcome(sealed, [key.identity]);
    expect([result.at, Buffer.compare(result.plain, plain)]).toEqual(['end', 0]);
  });

  test('an empty final chunk after a full one is refused (only an empty file has an empty final chunk)', async () => {
    // Built by hand with the package's own primitives is not possible; instead: a 64 KiB file whose final chunk
    // is full, and the same bytes as CCTV's stream_last_chunk_empty show the other side (see the vectors).
    const { key, plain, sealed } = await sealedFile(CHUNK_SIZE);
    expect(Buffer.compare(await decrypt(sealed, [key.identity]), plain)).toBe(0);
  });

  test('a file that ends inside the header, and a header that never ends', async () => {
    const { key, sealed, end } = await sealedFile(10);
    const cut = await outcome(sealed.subarray(0, end - 5), [key.identity]);
    expect([cut.at, cut.error.message]).toEqual([
      'header',
      `Cannot decrypt ${WHAT}: it ends inside the header.`,
    ]);
    const endless = Buffer.alloc((1 << 20) + 1, 'a');
    const huge = await outcome(endless, [key.identity]);
    expect([huge.at, huge.error.message]).toEqual([
      'header',
      `Cannot decrypt ${WHAT}: the header is too large.`,
    ]);
  });

  test('the source is closed when decryption stops', async () => {
    const { key, sealed, end } = await sealedFile(10);
    const stranger = await generateIdentity();
    const refused = pieces(sealed);
    await expect(decryptStream(refused, [stranger.identity], WHAT)).rejects.toThrow(NOT_OURS);
    expect(refused.destroyed).toBe(true);
    const cut = pieces(sealed.subarray(0, end - 2));
    await expect(decryptStream(cut, [key.identity], WHAT)).rejects.toThrow('it ends inside the header');
    expect(cut.destroyed).toBe(true);
    const read = pieces(sealed);
    await drain(await decryptStream(read, [key.identity], WHAT));
    expect(read.destroyed).toBe(true);
  });
});

describe('headerLength', () => {
  test('the length through the MAC line, or undefined while it is incomplete', () => {
    expect(headerLength(Buffer.from(''))).toBeUndefined();
    expect(headerLength(Buffer.from('age-encryption.org/v1\n-> X25519 abc\n'))).toBeUndefined();
    expect(headerLength(Buffer.from('age-encryption.org/v1\n--- abc'))).toBeUndefined();
    expect(headerLength(Buffer.from('age-encryption.org/v1\n--- abc\npayload'))).toBe(30);
    expect(headerLength(Buffer.from('---x\n--- \n'))).toBe(10);
    expect(headerLength(Buffer.from('a\n---\n--- x\nrest'))).toBe(12);
    // An empty first line is a line like any other (and no age header: the parser refuses it).
    expect(headerLength(Buffer.from('\n--- x\n'))).toBe(7);
  });

  test('a header of more than 1 MiB is refused; 1 MiB without its end still waits', () => {
    expect(headerLength(Buffer.alloc(1 << 20, 'a'))).toBeUndefined();
    expect(() => headerLength(Buffer.alloc((1 << 20) + 1, 'a'))).toThrow(
      new AgeFormatError('the header is too large'),
    );
    expect(() => headerLength(Buffer.alloc((1 << 20) + 1, 'a'))).toThrow(AgeFormatError);
  });
});

describe('readHeader on a header that headerLength did not cut', () => {
  test('a stanza without a body, a line after the MAC, a last line that is no MAC', async () => {
    const key = await generateIdentity();
    const identity = x25519Identity(key.identity)!;
    const refusal = (text: string) => {
      try {
        readHeader(Buffer.from(text), [identity]);
      } catch (error) {
        expect(error).toBeInstanceOf(AgeFormatError);
        return (error as Error).message;
      }
      throw new Error('expected a refusal');
    };
    const sealed = await encrypt(Buffer.from('x'), [key.recipient]);
    const [version, stanza, body, mac] = sealed
      .subarray(0, headerEnd(sealed) - 1)
      .toString('latin1')
      .split('\n');
    expect(refusal(`${version}\n${stanza}\n`)).toBe('a stanza body is cut short');
    expect(refusal(`${version}\n${stanza}\n${body}\n${mac}\nmore\n`)).toBe('the header is malformed');
    expect(refusal(`${version}\n${stanza}\n${body}\n${mac}\n${mac}\n`)).toBe('the header is malformed');
    expect(refusal(`${version}\n${stanza}\n${body}\nxxxx${mac!.slice(4)}\n`)).toBe('the header is malformed');
    expect(readHeader(Buffer.from(`${version}\n${stanza}\n${body}\n${mac}\n`), [identity])).toHaveLength(16);
  });
});

describe('keys', () => {
  test('an age1 recipient is its 32 bytes; other kinds and damaged ones are not X25519', async () => {
    const key = await generateIdentity();
    const raw = x25519Recipient(key.recipient)!;
    expect(raw.length).toBe(32);
    expect(bech32.encodeFromBytes('age', raw)).toBe(key.recipient);
    expect(x25519Recipient(bech32.encodeFromBytes('age', raw.subarray(0, 31)))).toBeUndefined();
    expect(x25519Recipient(bech32.encodeFromBytes('agf', raw))).toBeUndefined();
    expect(
      x25519Recipient(`${key.recipient.slice(0, -1)}${key.recipient.endsWith('q') ? 'p' : 'q'}`),
    ).toBeUndefined();
    expect(x25519Recipient('not a key')).toBeUndefined();
    const hybrid = await identityToRecipient(await generateHybridIdentity());
    expect(x25519Recipient(hybrid)).toBeUndefined();
  });

  test('an AGE-SECRET-KEY-1 identity, in either case, gives the recipient it belongs to', async () => {
    const key = await generateIdentity();
    expect(key.identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]+$/);
    expect(key.recipient).toMatch(/^age1[0-9a-z]{58}$/);
    const upper = x25519Identity(key.identity)!;
    const lower = x25519Identity(key.identity.toLowerCase())!;
    expect(upper.recipient.equals(x25519Recipient(key.recipient)!)).toBe(true);
    expect(lower.recipient.equals(upper.recipient)).toBe(true);
    const secretBytes = Buffer.from(
      bech32.decodeToBytes(key.identity.toLowerCase() as `${string}1${string}`).bytes,
    );
    expect(
      x25519Identity(bech32.encodeFromBytes('age-secret-key-', secretBytes.subarray(0, 31))),
    ).toBeUndefined();
    expect(x25519Identity(bech32.encodeFromBytes('age-secret-key-x', secretBytes))).toBeUndefined();
    expect(x25519Identity(key.recipient)).toBeUndefined();
    expect(x25519Identity('AGE-SECRET-KEY-1')).toBeUndefined();
  });
});

describe('other recipient kinds go through the age-encryption package', () => {
  test('a post-quantum recipient with an X25519 one: both can decrypt, with tier4 and with the package', async () => {
    const classic = await generateIdentity();
    const hybridIdentity = await generateHybridIdentity();
    const hybrid = await identityToRecipient(hybridIdentity);
    const plain = randomBytes(CHUNK_SIZE + 3);
    const sealed = await encrypt(plain, [classic.recipient, hybrid]);
    expect(sealed.subarray(0, headerEnd(sealed)).toString('latin1')).toContain('-> mlkem768x25519 ');
    expect(Buffer.compare(await decrypt(sealed, [hybridIdentity]), plain)).toBe(0);
    expect(Buffer.compare(await decrypt(sealed, [classic.identity]), plain)).toBe(0);
    expect(Buffer.compare(await packageDecrypt(sealed, classic.identity), plain)).toBe(0);
    expect(Buffer.compare(await packageDecrypt(sealed, hybridIdentity), plain)).toBe(0);
  });

  test('through the package too: a stranger is told so, damage is reported as damage, the source is closed', async () => {
    const hybridIdentity = await generateHybridIdentity();
    const plain = randomBytes(1000);
    const encrypter = new Encrypter();
    encrypter.addRecipient(await identityToRecipient(hybridIdentity));
    const sealed = Buffer.from(await encrypter.encrypt(plain));
    const stranger = await generateHybridIdentity();
    const refused = pieces(sealed);
    await expect(decryptStream(refused, [stranger], WHAT)).rejects.toThrow(NOT_OURS);
    expect(refused.destroyed).toBe(true);
    const garbage = Buffer.from('age-encryption.org/v2\n');
    const result = await outcome(garbage, [hybridIdentity]);
    expect(result.at).toBe('header');
    expect(result.error.message).toMatch(/^Cannot decrypt the test object: .+\.$/);
    expect(result.error.hint).toBe(HINT_DAMAGED);
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 20]! ^= 1;
    const late = await outcome(flipped, [hybridIdentity]);
    expect(late.error).toBeDefined();
    expect(late.plain.length).toBe(0);
  });

  test('no recipient at all is refused, not a file nobody can read', async () => {
    const source = pieces(Buffer.from('x'));
    const refused = await encryptStream(source, []).catch((error: unknown) => error as OperationError);
    expect(refused).toBeInstanceOf(OperationError);
    expect([(refused as OperationError).message, (refused as OperationError).hint]).toEqual([
      'Nothing was encrypted: there is no age recipient, so nobody could decrypt it.',
      'List at least one public key (age1…) in backups.encryption.recipients.',
    ]);
  });
});
