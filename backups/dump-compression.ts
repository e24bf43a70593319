import { PassThrough, type Readable, Transform, type Writable } from 'node:stream';
import { constants, createBrotliCompress, createBrotliDecompress } from 'node:zlib';
import type { BackupsConfig } from '../core/config/schema.js';

/**
 * How a set's database dump is compressed (decision 0013). By default pg_dump writes an uncompressed custom
 * archive and tier4 compresses the stream with brotli before encrypting it: brotli quality 1 makes a dump as
 * small as pg_dump's gzip level 6 for about a third of the CPU, and the work leaves pg_dump's single thread
 * (docs/benchmarks.md). `method: pg_dump` keeps pg_dump's own gzip, so the plain tools restore it without a
 * brotli step. Sets written before this setting existed carry no `compression` field: pg_dump compressed them.
 */
export interface DumpCompression {
  method: 'brotli';
  level: number;
}

/** pg_dump's --compress for the configured method: 0 when tier4 compresses the stream itself. */
export function pgDumpLevel(config: BackupsConfig['compression']): number {
  return config.method === 'pg_dump' ? config.level : 0;
}

/** The manifest's record of the compression tier4 applied, or undefined when pg_dump did it. */
export function streamCompression(config: BackupsConfig['compression']): DumpCompression | undefined {
  return config.method === 'brotli' ? { method: 'brotli', level: config.level } : undefined;
}

/**
 * The archive, compressed as it streams from pg_dump. Brotli at low quality compresses each write on its own
 * terms: fed pg_dump's 64 KiB pipe reads it made a dump 4% larger (and sizes that varied run to run) than fed
 * 1 MiB pieces, measured on the benchmark database (decision 0013). So the stream is regrouped first.
 * Errors of either stage reach the returned stream.
 */
export function compressArchive(archive: Readable, compression: DumpCompression): Readable {
  const brotli = createBrotliCompress({
    params: {
      [constants.BROTLI_PARAM_QUALITY]: compression.level,
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
 * Turns the decrypted object back into the archive pg_restore reads. Output in 1 MiB pieces instead of zlib's
 * 16 KiB: on the benchmark's 0.25 GB archive (290 MB) decompressing into a file took about half the CPU
 * (0.8-1.0 s against 1.8-2.0 s, user + system, fewer callbacks and writes), with a lower peak RSS.
 */
export function decompressor(compression: DumpCompression | undefined): Transform {
  return compression ? createBrotliDecompress({ chunkSize: 1024 * 1024 }) : new PassThrough();
}

/** Pipes the decrypted object, decompressed, into pg_restore's input; a decompression error ends that input. */
export function feedArchive(plain: Readable, compression: DumpCompression | undefined, into: Writable): void {
  const archive = decompressor(compression);
  archive.once('error', (error) => into.destroy(error));
  plain.pipe(archive).pipe(into);
}
