import { chmod, mkdtemp, open, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { decompressInto, findZstd, startCompressor, ZSTD_HINT } from '../../backups/zstd.js';
import { OperationError, UsageError } from '../../core/errors.js';

// backups/zstd.ts in-process: finding the program, compressing what another process writes, decompressing into
// a file, and the errors of each. The real zstd, and stand-ins for the versions and failures it can have.

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tier4-zstd-'));
}

/** A program that prints `banner` for --version, as zstd's CLI does (programs/zstdcli.c). */
async function versionSaying(banner: string): Promise<string> {
  const path = join(await scratch(), 'zstd');
  await writeFile(path, `#!/bin/sh\necho '${banner}'\n`);
  await chmod(path, 0o755);
  return path;
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as Error,
  );

describe('findZstd', () => {
  test('the installed zstd: its path and its whole version', async () => {
    const found = await findZstd({ ...process.env, TIER4_ZSTD: '' });
    expect(found.path).toBe('zstd');
    expect(found.version).toMatch(/^1\.\d+\.\d+$/);
  });

  test('versions are read whole, 1.4 and newer accepted', async () => {
    for (const [banner, version] of [
      ['*** Zstandard CLI (64-bit) v1.10.12, by Yann Collet ***', '1.10.12'],
      ['*** zstd command line interface 64-bits v1.4.0, by Yann Collet ***', '1.4.0'],
      ['*** Zstandard CLI (64-bit) v2.0.0, by Yann Collet ***', '2.0.0'],
    ]) {
      const path = await versionSaying(banner!);
      expect(await findZstd({ TIER4_ZSTD: path })).toEqual({ path, version });
    }
  });

  test('older than 1.4, or not zstd at all: refused with what to do', async () => {
    for (const [banner, message] of [
      [
        '*** zstd command line interface 64-bits v1.3.8, by Yann Collet ***',
        'zstd v1.3.8 is too old: tier4 needs 1.4 or newer.',
      ],
      ['*** zstd v0.9.4 ***', 'zstd v0.9.4 is too old: tier4 needs 1.4 or newer.'],
    ]) {
      const error = await refusal(findZstd({ TIER4_ZSTD: await versionSaying(banner!) }));
      expect([error?.constructor, error?.message, (error as UsageError).hint]).toEqual([
        UsageError,
        message,
        ZSTD_HINT,
      ]);
    }
    const impostor = await versionSaying('gzip 1.12');
    const error = await refusal(findZstd({ TIER4_ZSTD: impostor }));
    expect([error?.constructor, error?.message]).toEqual([
      UsageError,
      `${impostor} does not look like zstd: gzip 1.12`,
    ]);
  });
});

describe('startCompressor and decompressInto', () => {
  test('a round trip through a file: the exact sizes reported, the bytes back as they were', async () => {
    const dir = await scratch();
    const plain = Buffer.concat([Buffer.alloc(300_000, 'primero '), Buffer.from('\n')]);
    const compressor = startCompressor(await findZstd(), 1);
    const chunks: Buffer[] = [];
    compressor.output.on('data', (chunk: Buffer) => chunks.push(chunk));
    // Here the test is the producer: its end must reach the pipe before tier4's copy is closed.
    compressor.input.end(plain, () => compressor.producerExited());
    const sizes = await compressor.finished;
    const compressed = Buffer.concat(chunks);
    expect(sizes).toEqual({ plainSize: plain.length, compressedSize: compressed.length });
    const file = await open(join(dir, 'out'), 'wx', 0o600);
    await decompressInto(await findZstd(), Readable.from([compressed]), file.fd).done;
    await file.close();
    expect((await readFile(join(dir, 'out'))).equals(plain)).toBe(true);
  });

  test('a compressor stopped part-way: its failure says so, with zstd as the hint', async () => {
    const compressor = startCompressor(await findZstd(), 1);
    compressor.output.resume();
    compressor.kill();
    const error = await refusal(compressor.finished);
    // zstd's last line on stderr follows when it printed one before the signal (its -vv start-up lines).
    expect([error?.constructor, (error as OperationError).hint]).toEqual([OperationError, ZSTD_HINT]);
    expect(error?.message).toMatch(/^zstd failed while compressing the dump \(stopped by SIGTERM\)(: .+)?$/);
  });

  test('bytes that are no zstd stream: zstd exits 1 and its last word is reported', async () => {
    const dir = await scratch();
    const file = await open(join(dir, 'out'), 'wx', 0o600);
    const error = await refusal(
      decompressInto(await findZstd(), Readable.from([Buffer.from('not a zstd frame at all')]), file.fd).done,
    );
    await file.close();
    expect(error?.message).toMatch(
      /^zstd failed while decompressing the dump \(exit code 1\): zstd: .*(unsupported format|unknown header)$/,
    );
  });

  test('an input that fails (an object that does not authenticate) is the error reported, not zstd seeing it end', async () => {
    const dir = await scratch();
    const file = await open(join(dir, 'out'), 'wx', 0o600);
    const cause = new Error('chunk 3 does not verify: the payload is damaged');
    const failing = new Readable({
      read() {
        this.destroy(cause);
      },
    });
    const error = await refusal(decompressInto(await findZstd(), failing, file.fd).done);
    await file.close();
    expect(error).toBe(cause);
  });

  test('an input that fails after whole frames (zstd itself exits 0) still fails the decompression', async () => {
    const dir = await scratch();
    const file = await open(join(dir, 'out'), 'wx', 0o600);
    const frame = (await import('node:child_process')).execFileSync('zstd', ['-c'], {
      input: Buffer.from('whole frame'),
    });
    const cause = new Error('the final chunk does not verify: the file is damaged or cut short');
    let sent = false;
    const failing = new Readable({
      read() {
        if (!sent) {
          sent = true;
          this.push(frame);
        } else setTimeout(() => this.destroy(cause), 50); // after zstd has the whole frame
      },
    });
    const error = await refusal(decompressInto(await findZstd(), failing, file.fd).done);
    await file.close();
    expect(error).toBe(cause);
  });

  test('a decompressor that cannot be started: named, not a crash', async () => {
    const dir = await scratch();
    const file = await open(join(dir, 'out'), 'wx', 0o600);
    const error = await refusal(
      decompressInto(
        { path: join(dir, 'missing-zstd'), version: '1.5.4' },
        Readable.from([Buffer.from('x')]),
        file.fd,
      ).done,
    );
    await file.close();
    expect(error?.message).toMatch(
      /^zstd could not be started while decompressing the dump: spawn .*missing-zstd ENOENT$/,
    );
  });
});
