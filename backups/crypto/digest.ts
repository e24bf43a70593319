import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Passes bytes through while counting them and hashing them. */
export class DigestStream extends Transform {
  private readonly hash: Hash;
  bytes = 0;

  constructor(algorithm: 'sha256' | 'md5' = 'sha256') {
    super();
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    callback(null, chunk);
  }

  /** Only valid once the stream has finished. */
  digest(encoding: 'hex' | 'base64' = 'hex'): string {
    return this.hash.digest(encoding);
  }
}

/** Consumes a stream and returns its size and digest. */
export async function digestOf(
  source: NodeJS.ReadableStream,
  algorithm: 'sha256' | 'md5' = 'sha256',
  encoding: 'hex' | 'base64' = 'hex',
): Promise<{ bytes: number; digest: string }> {
  const hash = createHash(algorithm);
  let bytes = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    hash.update(chunk);
  }
  return { bytes, digest: hash.digest(encoding) };
}
