import { brotliCompressSync, brotliDecompressSync } from 'node:zlib';
import { execa } from 'execa';
import type { DumpCompression } from '../../backups/dump-compression.js';

/** Bytes out as they are: execa strips a final 0x0a from output, even binary output, unless told not to. */
const BINARY = { encoding: 'buffer', stripFinalNewline: false } as const;

/** The pg_dump archive inside a decrypted dump, decompressed with the standard tools' algorithms. */
export async function archiveOf(
  decrypted: Buffer,
  compression: DumpCompression | undefined,
): Promise<Buffer> {
  if (compression?.method === 'zstd') {
    const { stdout } = await execa('zstd', ['-d', '-c'], { input: decrypted, ...BINARY });
    return Buffer.from(stdout);
  }
  return compression?.method === 'brotli' ? brotliDecompressSync(decrypted) : decrypted;
}

/** An archive compressed as a set with `compression` stores it (the reverse of archiveOf). */
export async function compressedAs(
  archive: Buffer,
  compression: DumpCompression | undefined,
): Promise<Buffer> {
  if (compression?.method === 'zstd') {
    const { stdout } = await execa('zstd', [`-${compression.level}`, '-c'], {
      input: archive,
      ...BINARY,
    });
    return Buffer.from(stdout);
  }
  return compression?.method === 'brotli' ? brotliCompressSync(archive) : archive;
}
