import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { errorMessage, OperationError } from '../../core/errors.js';
import {
  AgeFormatError,
  headerLength,
  openPayload,
  readHeader,
  sealPayload,
  x25519Identity,
  x25519Recipient,
} from './age-format.js';

/**
 * age encryption of streams (age v1 format, X25519 recipients), so the backup job holds only public keys and
 * plaintext never leaves the site. X25519 keys (all that tier4.yaml accepts as recipients) go through
 * ./age-format.ts on Node's native ChaCha20-Poly1305; other identities (e.g. post-quantum ones) through the
 * age-encryption package. Both write and read the same format.
 */

/**
 * A pull-based web stream over a Node stream. (Node 20's Readable.toWeb keeps pushing into a cancelled stream
 * and raises an unhandled error when we stop reading early, e.g. after checking a header.)
 */
function toWebStream(source: Readable): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    },
    async cancel() {
      source.destroy();
    },
  });
}

export async function encryptStream(source: Readable, recipients: readonly string[]): Promise<Readable> {
  // The age-encryption package writes a file with no stanza at all for an empty list: one nobody can read.
  if (recipients.length === 0)
    throw new OperationError(
      'Nothing was encrypted: there is no age recipient, so nobody could decrypt it.',
      'List at least one public key (age1…) in backups.encryption.recipients.',
    );
  const native = recipients.map(x25519Recipient);
  if (native.every((key) => key !== undefined)) {
    return Readable.from(sealPayload(source, native as Buffer[]), {
      objectMode: false,
      highWaterMark: 1 << 20,
    });
  }
  const { Encrypter } = await import('age-encryption');
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  const encrypted = await encrypter.encrypt(toWebStream(source));
  return Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>, { highWaterMark: 1 << 20 });
}

/** Decrypts; fails fast (while reading the header) when no identity matches. */
export async function decryptStream(
  source: Readable,
  identities: readonly string[],
  what: string,
): Promise<Readable> {
  const native = identities.map(x25519Identity);
  if (native.length > 0 && native.every((key) => key !== undefined)) {
    return decryptNative(source, native as NativeIdentity[], what);
  }
  const { Decrypter } = await import('age-encryption');
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  try {
    const plain = await decrypter.decrypt(toWebStream(source));
    return Readable.fromWeb(plain as unknown as WebReadableStream<Uint8Array>, { highWaterMark: 1 << 20 });
  } catch (error) {
    source.destroy();
    throw /no identity matched/i.test(errorMessage(error)) ? notOurs(what) : damaged(what, error);
  }
}

type NativeIdentity = NonNullable<ReturnType<typeof x25519Identity>>;

function notOurs(what: string): OperationError {
  return new OperationError(
    `The age identity cannot decrypt ${what}: it is not one of the backup's recipients.`,
    'Use the identity whose public key is listed in backups.encryption.recipients when the backup was taken.',
  );
}

function damaged(what: string, error: unknown): OperationError {
  return new OperationError(
    `Cannot decrypt ${what}: ${errorMessage(error)}.`,
    'The object may be damaged; run `tier4 backup verify`.',
  );
}

/** Reads and checks the header before returning (so a wrong identity fails at once), then streams the payload. */
async function decryptNative(
  source: Readable,
  identities: NativeIdentity[],
  what: string,
): Promise<Readable> {
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let bytes = Buffer.alloc(0);
  let fileKey: Buffer;
  try {
    let length = headerLength(bytes);
    while (length === undefined) {
      const { value, done } = await iterator.next();
      if (done) throw new AgeFormatError('it ends inside the header');
      bytes = Buffer.concat([bytes, value]);
      length = headerLength(bytes);
    }
    const found = readHeader(bytes.subarray(0, length), identities);
    if (found === 'no-match') throw notOurs(what);
    fileKey = found;
    bytes = bytes.subarray(length);
  } catch (error) {
    source.destroy();
    if (error instanceof OperationError) throw error;
    throw damaged(what, error);
  }
  const leftover = bytes;
  async function* rest(): AsyncGenerator<Buffer> {
    if (leftover.length > 0) yield leftover;
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) return;
      yield value;
    }
  }
  async function* plaintext(): AsyncGenerator<Buffer> {
    try {
      yield* openPayload(fileKey, rest());
    } catch (error) {
      throw error instanceof AgeFormatError ? damaged(what, error) : error;
    } finally {
      source.destroy();
    }
  }
  return Readable.from(plaintext(), { objectMode: false, highWaterMark: 1 << 20 });
}

/** The AGE-SECRET-KEY-1… lines of an identity file (comments and blank lines skipped). */
export { parseIdentities } from '../../core/config/recipients.js';

export async function generateIdentity(): Promise<{ identity: string; recipient: string }> {
  const { generateX25519Identity, identityToRecipient } = await import('age-encryption');
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}
