import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import { headerLength } from './crypto/age-format.js';
import { DigestStream } from './crypto/digest.js';
import type { SiteRepository } from './site-repository.js';

/**
 * A dump streamed into pg_restore without first being written whole and hashed (issue #16), yet never a byte of
 * plaintext that is not the backup's (issue #12: anyone holding the public recipient can make a valid age file).
 *
 * Facts from the age v1 specification (C2SP age.md, "Payload"): the payload key is HKDF-SHA-256 of the file key
 * with the 16-byte nonce that follows the header, and each 64 KiB chunk is sealed with ChaCha20-Poly1305 under a
 * counter nonce whose last byte marks the final chunk. The file key is in the header, wrapped to the recipients:
 * only the backup job that made it and the identity holder know it. So once the header and nonce are the ones
 * whose object matched the manifest's SHA-256 (pinDump, a first read), every chunk that authenticates on the
 * second read (our decryptor releases a chunk only after its tag verified, age-format.ts openPayload) is the
 * backup's own plaintext, in order; a swapped object fails at its first byte that differs, a cut one at its end.
 * The second read is hashed as well and compared at the end, as before.
 */

/** The first read: size and SHA-256 against the manifest; returns the header and nonce to hold the second read to. */
export async function pinDump(
  repo: SiteRepository,
  object: { object: string; size: number; sha256: string },
  mismatch: () => Error,
): Promise<Buffer> {
  const source = await repo.store.get(object.object);
  const hash = createHash('sha256');
  let bytes = 0;
  let head = Buffer.alloc(0);
  let pinned: number | undefined;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    if (head.length < (pinned ?? MAX_PREFIX)) {
      head = Buffer.concat([head, chunk]);
      if (pinned === undefined) pinned = pinLength(head);
    }
  }
  if (
    bytes !== object.size ||
    hash.digest('hex') !== object.sha256 ||
    pinned === undefined ||
    head.length < pinned
  )
    throw mismatch();
  return head.subarray(0, pinned);
}

const NONCE_SIZE = 16;
/** An age header is a few hundred bytes per recipient; past this, the object is not one tier4 wrote. */
const MAX_PREFIX = 64 * 1024;

function pinLength(head: Buffer): number | undefined {
  try {
    const length = headerLength(head);
    return length === undefined ? undefined : length + NONCE_SIZE;
  } catch {
    return undefined; // not an age header: the SHA-256 cannot match either
  }
}

/**
 * The second read of the object: hashed (cipher.bytes, cipher.digest() once it ended) and held to the pinned
 * prefix, failing at the first byte that differs, before the decryptor can use it. A read error of the source
 * reaches the returned stream.
 */
export function pinnedRead(source: Readable, prefix: Buffer): { stream: Readable; cipher: DigestStream } {
  const cipher = new DigestStream('sha256');
  let offset = 0;
  const pin = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (offset < prefix.length) {
        const expected = prefix.subarray(offset, offset + chunk.length);
        if (!chunk.subarray(0, expected.length).equals(expected)) {
          return callback(new Error('the object is not the one that was verified'));
        }
        offset += expected.length;
      }
      callback(null, chunk);
    },
  });
  source.once('error', (error) => pin.destroy(error));
  cipher.once('error', (error) => pin.destroy(error));
  return { stream: source.pipe(cipher).pipe(pin), cipher };
}
