import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { bech32 } from '@scure/base';

/**
 * The age v1 file format with X25519 recipients, on Node's own crypto (OpenSSL's ChaCha20-Poly1305 runs at
 * GB/s; the pure-JS cipher of the age-encryption package at about 100 MB/s, the bottleneck of a backup).
 * Every rule here is from the format's specification, C2SP `age.md` (c2sp.org/age, age-encryption.org/v1):
 * the header, the X25519 stanza, the header MAC and the STREAM payload. Files written here are read by the
 * `age` CLI and the age-encryption package, and the other way round (test/backups/interop.test.ts).
 */

const VERSION_LINE = 'age-encryption.org/v1';
/** age.md, X25519 recipient stanza: the HKDF info of the wrap key. */
const X25519_INFO = 'age-encryption.org/v1/X25519';
/** age.md, Payload: 64 KiB plaintext chunks, each sealed with a 16-byte Poly1305 tag. */
export const CHUNK_SIZE = 64 * 1024;
const TAG_SIZE = 16;
/** age.md: the file key is 16 bytes; the payload nonce is 16 bytes. */
const FILE_KEY_SIZE = 16;
const NONCE_SIZE = 16;
/** A header larger than this is no header we wrote or can use: stop reading rather than buffer it all. */
const MAX_HEADER_BYTES = 1 << 20;

// DER prefixes that turn a raw 32-byte X25519 key into what node:crypto imports (RFC 8410).
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

export class AgeFormatError extends Error {}

/** Unpadded standard base64; decoding rejects non-canonical text (age.md, Conventions). */
function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}
function unb64(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*$/.test(text)) throw new AgeFormatError(`${what} is not unpadded base64`);
  const bytes = Buffer.from(text, 'base64');
  if (b64(bytes) !== text) throw new AgeFormatError(`${what} is not canonical base64`);
  return bytes;
}

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_SIZE });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** Opens a sealed box; undefined when the tag does not verify. */
function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer | undefined {
  if (sealed.length < TAG_SIZE) return undefined;
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_SIZE });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  try {
    return Buffer.concat([plain, decipher.final()]);
  } catch {
    return undefined;
  }
}

const privateKey = (raw: Uint8Array): KeyObject =>
  createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' });
const publicKey = (raw: Uint8Array): KeyObject =>
  createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' });
const rawPublic = (key: KeyObject): Buffer =>
  key.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length);

/** An `age1…` recipient: 32 raw bytes; undefined for any other kind (e.g. post-quantum `age1pq1…`). */
export function x25519Recipient(recipient: string): Buffer | undefined {
  try {
    const decoded = bech32.decodeToBytes(recipient as `${string}1${string}`);
    return decoded.prefix === 'age' && decoded.bytes.length === 32 ? Buffer.from(decoded.bytes) : undefined;
  } catch {
    return undefined;
  }
}

/** An `AGE-SECRET-KEY-1…` identity: its secret and public keys; undefined for any other kind. */
export function x25519Identity(identity: string): { secret: KeyObject; recipient: Buffer } | undefined {
  try {
    const decoded = bech32.decodeToBytes(identity.toLowerCase() as `${string}1${string}`);
    if (decoded.prefix !== 'age-secret-key-' || decoded.bytes.length !== 32) return undefined;
    const secret = privateKey(decoded.bytes);
    return { secret, recipient: rawPublic(createPublicKey(secret)) };
  } catch {
    return undefined;
  }
}

/** The header for a new file: one X25519 stanza per recipient, then the MAC line; and the file key. */
export function writeHeader(recipients: readonly Buffer[]): { header: Buffer; fileKey: Buffer } {
  const fileKey = randomBytes(FILE_KEY_SIZE);
  const lines = [VERSION_LINE];
  for (const recipient of recipients) {
    // A fresh ephemeral key per stanza and per file (age.md, X25519 recipient stanza).
    const ephemeral = generateKeyPairSync('x25519');
    const share = rawPublic(ephemeral.publicKey);
    const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: publicKey(recipient) });
    const wrapKey = hkdf(shared, Buffer.concat([share, recipient]), X25519_INFO);
    // The sealed 16-byte file key is 32 bytes, 43 base64 columns: a body of one line shorter than 64 columns,
    // which is also its last line (age.md, Header: a body ends with a line shorter than 64 columns).
    lines.push(`-> X25519 ${b64(share)}`, b64(seal(wrapKey, Buffer.alloc(12), fileKey)));
  }
  const withoutMac = `${lines.join('\n')}\n---`;
  const mac = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header'))
    .update(withoutMac)
    .digest();
  return { header: Buffer.from(`${withoutMac} ${b64(mac)}\n`), fileKey };
}

interface Stanza {
  args: string[];
  body: Buffer;
}

/**
 * Finds the end of the header in the bytes read so far: the length of the header (through the MAC line's
 * newline), or undefined when more bytes are needed.
 */
export function headerLength(bytes: Buffer): number | undefined {
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    if (end < 0) {
      if (bytes.length > MAX_HEADER_BYTES) throw new AgeFormatError('the header is too large');
      return undefined;
    }
    if (bytes.subarray(start, start + 4).toString('latin1') === '--- ') return end + 1;
    start = end + 1;
  }
}

/** Parses a complete header (age.md, ABNF of the file header). */
function parseHeader(header: Buffer): { stanzas: Stanza[]; macInput: Buffer; mac: Buffer } {
  const text = header.toString('latin1');
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== VERSION_LINE) throw new AgeFormatError('it is not an age v1 file');
  const stanzas: Stanza[] = [];
  let index = 1;
  while (lines[index]?.startsWith('-> ')) {
    const args = lines[index]!.slice(3).split(' ');
    if (args.some((arg) => !/^[\x21-\x7e]+$/.test(arg)))
      throw new AgeFormatError('a stanza has a bad argument');
    index++;
    let body = '';
    for (;;) {
      const line = lines[index++];
      if (line === undefined || line.startsWith('--- '))
        throw new AgeFormatError('a stanza body is cut short');
      if (line.length > 64) throw new AgeFormatError('a stanza body line is longer than 64 columns');
      body += line;
      if (line.length < 64) break;
    }
    stanzas.push({ args, body: unb64(body, 'a stanza body') });
  }
  const macLine = lines[index];
  if (stanzas.length === 0 || index !== lines.length - 1 || !macLine?.startsWith('--- '))
    throw new AgeFormatError('the header is malformed');
  const mac = unb64(macLine.slice(4), 'the header MAC');
  if (mac.length !== 32) throw new AgeFormatError('the header MAC has the wrong length');
  return { stanzas, macInput: header.subarray(0, header.length - macLine.length + 3 - 1), mac };
}

/**
 * The X25519 shared secret with a stanza's share. age.md rejects an all-zero secret (a low-order share);
 * OpenSSL's X25519() refuses to derive one (crypto/ec/curve25519.c: the all-zero output of a small-order
 * point is a failure), so Node throws "failed during derivation": said here in age's terms.
 */
function sharedSecret(secret: KeyObject, share: Buffer): Buffer {
  try {
    return diffieHellman({ privateKey: secret, publicKey: publicKey(share) });
  } catch {
    throw new AgeFormatError('an X25519 share is a low-order point');
  }
}

/**
 * The file key of a header, unwrapped with one of the identities and checked against the header MAC.
 * 'no-match' when no identity is a recipient; throws AgeFormatError when the header is damaged.
 */
export function readHeader(
  header: Buffer,
  identities: ReadonlyArray<{ secret: KeyObject; recipient: Buffer }>,
): Buffer | 'no-match' {
  const { stanzas, macInput, mac } = parseHeader(header);
  let fileKey: Buffer | undefined;
  for (const stanza of stanzas) {
    if (stanza.args[0] !== 'X25519') continue; // other recipient types are ignored (age.md, Recipient stanza)
    if (stanza.args.length !== 2) throw new AgeFormatError('an X25519 stanza has the wrong arguments');
    const share = unb64(stanza.args[1]!, 'an X25519 share');
    if (share.length !== 32 || stanza.body.length !== 32)
      throw new AgeFormatError('an X25519 stanza has the wrong length');
    for (const identity of identities) {
      const shared = sharedSecret(identity.secret, share);
      const wrapKey = hkdf(shared, Buffer.concat([share, identity.recipient]), X25519_INFO);
      fileKey = open(wrapKey, Buffer.alloc(12), stanza.body);
      if (fileKey) break;
    }
    if (fileKey) break;
  }
  if (!fileKey) return 'no-match';
  const expected = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header'))
    .update(macInput)
    .digest();
  if (!timingSafeEqual(expected, mac)) throw new AgeFormatError('the header MAC does not verify');
  return fileKey;
}

/** The 12-byte chunk nonce: an 11-byte big-endian counter, then 0x01 for the final chunk (age.md, Payload). */
function chunkNonce(counter: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(Math.floor(counter / 2 ** 32), 3, 4);
  nonce.writeUInt32BE(counter % 2 ** 32, 7);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

export function payloadKey(fileKey: Buffer, nonce: Buffer): Buffer {
  return hkdf(fileKey, nonce, 'payload');
}

/** Header, payload nonce and sealed chunks of a plaintext stream. */
export async function* sealPayload(
  source: AsyncIterable<Buffer | Uint8Array>,
  recipients: readonly Buffer[],
): AsyncGenerator<Buffer> {
  const { header, fileKey } = writeHeader(recipients);
  const nonce = randomBytes(NONCE_SIZE);
  const key = payloadKey(fileKey, nonce);
  yield Buffer.concat([header, nonce]);
  // A full chunk is held until more data follows: the last chunk must be marked final, and it may be full.
  const chunk = Buffer.allocUnsafe(CHUNK_SIZE);
  let filled = 0;
  let counter = 0;
  for await (const data of source) {
    let offset = 0;
    while (offset < data.length) {
      if (filled === CHUNK_SIZE) {
        yield seal(key, chunkNonce(counter++, false), chunk);
        filled = 0;
      }
      const take = Math.min(CHUNK_SIZE - filled, data.length - offset);
      chunk.set(data.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
    }
  }
  yield seal(key, chunkNonce(counter, true), chunk.subarray(0, filled));
}

/**
 * The plaintext of the payload that follows a header. Throws AgeFormatError on a chunk that does not verify,
 * and when the stream ends without a final chunk (truncation).
 */
export async function* openPayload(
  fileKey: Buffer,
  rest: AsyncIterable<Buffer | Uint8Array>,
): AsyncGenerator<Buffer> {
  const sealedSize = CHUNK_SIZE + TAG_SIZE;
  let pending = Buffer.alloc(0);
  let key: Buffer | undefined;
  let counter = 0;
  for await (const data of rest) {
    pending = pending.length === 0 ? Buffer.from(data) : Buffer.concat([pending, data]);
    if (!key) {
      if (pending.length < NONCE_SIZE) continue;
      key = payloadKey(fileKey, pending.subarray(0, NONCE_SIZE));
      pending = pending.subarray(NONCE_SIZE);
    }
    // Keep the last whole chunk until more follows: only then is it known not to be the final one.
    let offset = 0;
    while (pending.length - offset > sealedSize) {
      const plain = open(key, chunkNonce(counter++, false), pending.subarray(offset, offset + sealedSize));
      if (!plain) throw new AgeFormatError(`chunk ${counter - 1} does not verify: the payload is damaged`);
      yield plain;
      offset += sealedSize;
    }
    if (offset > 0) pending = pending.subarray(offset);
  }
  if (!key) throw new AgeFormatError('the payload nonce is missing: the file is cut short');
  const last = open(key, chunkNonce(counter, true), pending);
  if (!last) throw new AgeFormatError('the final chunk does not verify: the file is damaged or cut short');
  if (last.length === 0 && counter > 0) throw new AgeFormatError('the final chunk is empty');
  if (last.length > 0) yield last;
}
