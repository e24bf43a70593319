import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { type Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createBrotliCompress, createBrotliDecompress } from 'node:zlib';
import type { BackupsConfig } from '../core/config/schema.js';
import { decompressInto, findZstd } from './zstd.js';

/**
 * How a set's database dump is compressed (decisions 0013 and 0018). By default pg_dump writes an uncompressed
 * custom archive into a `zstd` process, and tier4 encrypts what zstd writes: the compression runs beside
 * pg_dump on the other core and tier4 never reads the uncompressed archive. `brotli` compresses in tier4's
 * own process (no program needed; the default of sets written before 0018). `method: pg_dump` keeps pg_dump's
 * own gzip, so the plain tools restore it with `age -d` and pg_restore alone. Sets written before any of this
 * carry no `compression` field: pg_dump compressed them.
 */
export interface DumpCompression {
  method: 'brotli' | 'zstd';
  level: number;
}

/** pg_dump's --compress for the configured method: 0 when the stream is compressed after pg_dump. */
export function pgDumpLevel(config: BackupsConfig['compression']): number {
  return config.method === 'pg_dump' ? config.level : 0;
}

/** The manifest's record of the compression applied after pg_dump, or undefined when pg_dump did it. */
export function streamCompression(config: BackupsConfig['compression']): DumpCompression | undefined {
  return config.method === 'pg_dump' ? undefined : { method: config.method, level: config.level };
}

/**
 * The archive, brotli-compressed as it streams from pg_dump. Brotli at low quality compresses each write on its
 * own terms: fed pg_dump's 64 KiB pipe reads it made a dump 4% larger (and sizes that varied run to run) than
 * fed 1 MiB pieces, measured on the benchmark database (decision 0013). So the stream is regrouped first.
 * Errors of either stage reach the returned stream.
 */
export function brotliCompressed(archive: Readable, level: number): Readable {
  const brotli = createBrotliCompress({
    params: {
      [constants.BROTLI_PARAM_QUALITY]: level,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_GENERIC,
    },
  });
  const regroup = regrouped(1024 * 1024);
  archive.once('error', (error) => brotli.destroy(error));
  regroup.once('error', (error) => brotli.destroy(error));
  return archive.pipe(regroup).pipe(brotli);
}

/** Passes the stream on in pieces of at least `size` bytes (the last one may be smaller). */
function regrouped(size: number): Transform {
  let pending: Buffer[] = [];
  let length = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      pending.push(chunk);
      length += chunk.length;
      if (length < size) return callback();
      const piece = Buffer.concat(pending, length);
      pending = [];
      length = 0;
      callback(null, piece);
    },
    flush(callback) {
      callback(null, length > 0 ? Buffer.concat(pending, length) : undefined);
    },
  });
}

/**
 * Brotli's decompressor, output in 1 MiB pieces instead of zlib's 16 KiB: on the benchmark's 0.25 GB archive
 * (290 MB) decompressing into a file took about half the CPU (0.8-1.0 s against 1.8-2.0 s, user + system, fewer
 * callbacks and writes), with a lower peak RSS.
 */
function brotliDecompressor(): Transform {
  return createBrotliDecompress({ chunkSize: 1024 * 1024 });
}

/**
 * Writes the archive held in the decrypted object into a new private file (0600; an existing file is never
 * overwritten) and returns its size. Resolves once every byte is written and, for zstd, the program exited 0
 * (each frame's checksum matched).
 */
export async function writeArchive(
  plain: Readable,
  compression: DumpCompression | undefined,
  path: string,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  try {
    if (compression?.method === 'zstd') {
      const tool = await findZstd(env);
      const file = await open(path, 'wx', 0o600);
      try {
        await decompressInto(tool, plain, file.fd).done;
        return (await file.stat()).size;
      } finally {
        await file.close();
      }
    }
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    await (compression ? pipeline(plain, brotliDecompressor(), out) : pipeline(plain, out));
    return out.bytesWritten;
  } catch (error) {
    plain.destroy(); // stop reading the object: nothing more is written
    throw error;
  }
}

/**
 * Feeds the archive held in the decrypted object into a process's stdin (pg_restore). Resolves when the whole
 * archive was handed over; rejects when it could not be decompressed (the reader then sees its input end early).
 */
export async function feedArchive(
  plain: Readable,
  compression: DumpCompression | undefined,
  into: Writable,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  try {
    if (compression?.method === 'zstd') {
      await decompressInto(await findZstd(env), plain, into).done;
      return;
    }
    await (compression ? pipeline(plain, brotliDecompressor(), into) : pipeline(plain, into));
  } catch (error) {
    into.destroy(); // the reader must see its input end, not wait for it
    plain.destroy();
    throw error;
  }
}
