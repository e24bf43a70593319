import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { execa } from 'execa';
import { OperationError, UsageError } from '../core/errors.js';

/**
 * The `zstd` program (decision 0018). It compresses the archive straight from pg_dump's pipe, so tier4 reads
 * only the compressed bytes, and it decompresses into the restore's file or pg_restore's pipe. Node 20 has
 * no zstd of its own (node:zlib gained it in 22.15).
 */
export interface ZstdTool {
  path: string;
  version: string;
}

export const ZSTD_HINT =
  'Install zstd (Debian and Ubuntu: `apt install zstd`), or set TIER4_ZSTD to its path. A repository can also be written with `backups.compression.method: brotli`, which needs no program.';

/** $TIER4_ZSTD, else `zstd` on the PATH; refused when missing, or too old to report exact sizes. */
export async function findZstd(env: NodeJS.ProcessEnv = process.env): Promise<ZstdTool> {
  const path = env.TIER4_ZSTD || 'zstd';
  let stdout: string;
  try {
    ({ stdout } = await execa(path, ['--version'], { env }));
  } catch {
    throw new UsageError(`zstd was not found (${path}).`, ZSTD_HINT);
  }
  // "*** Zstandard CLI (64-bit) v1.5.4, by Yann Collet ***" (programs/zstdcli.c, WELCOME_MESSAGE)
  const match = /\bv(\d+)\.(\d+)\.(\d+)/.exec(stdout);
  if (!match) throw new UsageError(`${path} does not look like zstd: ${stdout.slice(0, 80)}`, ZSTD_HINT);
  const [major, minor] = [Number(match[1]), Number(match[2])];
  // --no-progress and the exact sizes parsed below are in every release since 1.4.0.
  if (major < 1 || (major === 1 && minor < 4)) {
    throw new UsageError(`zstd ${match[0]} is too old: tier4 needs 1.4 or newer.`, ZSTD_HINT);
  }
  return { path, version: `${match[1]}.${match[2]}.${match[3]}` };
}

/** The sizes zstd reports when a stream ends. */
export interface ZstdSizes {
  plainSize: number;
  compressedSize: number;
}

/**
 * Reads the summary line zstd prints on stderr at -vv when it has compressed a stream:
 *   `/*stdin*\            : 24.71%   (1161234567 B => 286912345 B, /*stdout*\)` (1.4.9 and later), or
 *   `/*stdin*\            : 24.71%   (1161234567 => 286912345 bytes, /*stdout*\)` (1.4.0 to 1.4.8).
 * At display level 4 (-vv) sizes are not scaled (programs/util.c, UTIL_makeHumanReadableSize, below 2^53 bytes);
 * programs/fileio.c prints the line. An empty input has no percentage: `(0 B => 13 B, ...)`.
 */
export function parseZstdSizes(stderr: string): ZstdSizes | undefined {
  const match = /\(\s*(\d+)(?: B)? => +(\d+) (?:B|bytes),/.exec(stderr);
  if (!match) return undefined;
  return { plainSize: Number(match[1]), compressedSize: Number(match[2]) };
}

/** A zstd process compressing what another process writes into `input`. */
export interface ArchiveCompressor {
  /** The write end of zstd's input pipe: give it to the producer as its stdout. */
  input: Writable;
  /** The compressed stream. */
  output: Readable;
  /**
   * Call once the producer has exited: closes tier4's copy of the input, so zstd sees the end. (Not sooner: execa
   * reports a stream given as stdout that closes before the process ends as a failure, ERR_STREAM_PREMATURE_CLOSE.)
   */
  producerExited(): void;
  /** zstd's exact sizes once it has exited 0; a failure or a missing summary rejects. */
  finished: Promise<ZstdSizes>;
  kill(): void;
}

/**
 * Starts `zstd -<level>` reading a pipe another process will write. The producer's output never passes through
 * tier4 (a Node read of pg_dump's pipe alone cost 1.6 CPU-seconds per GB, docs/benchmarks.md).
 */
export function startCompressor(tool: ZstdTool, level: number): ArchiveCompressor {
  // -vv for the exact sizes; --no-progress so nothing but the summary is printed; -c: stdin to stdout.
  // zstd adds a content checksum to each frame by default (--check), which `zstd -d` verifies.
  const child = spawn(tool.path, [`-${level}`, '-vv', '--no-progress', '-c'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr = collect(child);
  const finished = exited(child, stderr, 'compressing the dump').then(
    () => {
      const sizes = parseZstdSizes(stderr());
      if (sizes) return sizes;
      throw new OperationError(
        `zstd ${tool.version} did not report the size of the dump it compressed; the backup was not completed.`,
        ZSTD_HINT,
      );
    },
    (error: Error) => {
      throw new OperationError(error.message, ZSTD_HINT);
    },
  );
  finished.catch(() => undefined); // awaited by the caller; a failure meanwhile is not an unhandled rejection
  return {
    input: child.stdin!,
    output: child.stdout!,
    producerExited: () => child.stdin!.destroy(),
    finished,
    kill: () => child.kill('SIGTERM'),
  };
}

/**
 * Decompresses `compressed` (read by tier4: the decrypted object) into `into`: an open file descriptor, or the
 * stdin pipe of a process that reads the archive (zstd writes it directly; tier4's copy of that pipe is closed,
 * so the reader sees zstd's end). Resolves when zstd exited 0, which means every frame's checksum matched.
 */
export function decompressInto(
  tool: ZstdTool,
  compressed: Readable,
  into: number | Writable,
): { done: Promise<void>; kill(): void } {
  const child = spawn(tool.path, ['-d', '-q', '-c'], { stdio: ['pipe', into, 'pipe'] });
  if (typeof into !== 'number') into.destroy();
  // A failure of the input (an object that fails authentication) is the cause; zstd then only sees it end.
  let inputError: Error | undefined;
  compressed.once('error', (error) => {
    inputError = error;
    child.stdin!.destroy();
  });
  child.stdin!.on('error', () => {}); // zstd stopping early is reported by its exit status
  compressed.pipe(child.stdin!);
  // An input that failed fails the decompression even when zstd exited 0 (the failure fell between two frames).
  const done = exited(child, collect(child), 'decompressing the dump').then(
    () => {
      if (inputError) throw inputError;
    },
    (error: Error) => {
      throw inputError ?? error;
    },
  );
  done.catch(() => undefined);
  return { done, kill: () => child.kill('SIGTERM') };
}

function collect(child: ChildProcess): () => string {
  let text = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    // The summary is the last line; a bounded tail keeps a chatty zstd from growing memory.
    text = (text + chunk).slice(-8192);
  });
  return () => text;
}

/** Resolves when the process exits 0; else rejects with a plain Error naming what zstd said (the caller words it). */
function exited(child: ChildProcess, stderr: () => string, doing: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`zstd could not be started while ${doing}: ${error.message}`)),
    );
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const last = stderr().trim().split('\n').at(-1) ?? '';
      const how = signal ? `stopped by ${signal}` : `exit code ${code}`;
      reject(new Error(`zstd failed while ${doing} (${how})${last ? `: ${last}` : ''}`));
    });
  });
}
