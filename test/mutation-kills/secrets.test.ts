import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, test } from 'vitest';
import { DigestStream, digestOf } from '../../backups/crypto/digest.js';
import { UsageError } from '../../core/errors.js';
import { redact } from '../../core/redact.js';
import { describeSecretRef, resolveSecret, secretRefSchema } from '../../core/secrets.js';

// Secret references and how they resolve (core/secrets.ts), and the digests backups are checked with
// (backups/crypto/digest.ts): exact errors and hints, exact values.

const dir = () => mkdtemp(join(tmpdir(), 'tier4-secret-'));
const refused = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
};

describe('secretRefSchema', () => {
  test('accepts {env: NAME} and {file: path}, exactly', () => {
    expect(secretRefSchema.parse({ env: '_Db_PASSWORD1' })).toEqual({ env: '_Db_PASSWORD1' });
    expect(secretRefSchema.parse({ file: '/run/secrets/x' })).toEqual({ file: '/run/secrets/x' });
  });

  test.each([
    [
      'an inline string',
      'hunter22',
      'inline secrets are not allowed; reference it as {env: NAME} or {file: /path}',
    ],
    [
      'an inline number',
      123456,
      'inline secrets are not allowed; reference it as {env: NAME} or {file: /path}',
    ],
    ['a name starting with a digit', { env: '1PASSWORD' }, 'must be an environment variable name'],
    ['a name with a dash', { env: 'DB-PASSWORD' }, 'must be an environment variable name'],
    ['a name after other text', { env: 'x y' }, 'must be an environment variable name'],
    ['an empty path', { file: '' }, 'must be a file path'],
    ['an extra key', { env: 'A', value: 'x' }, 'Unrecognized key: "value"'],
    ['neither form', { vault: 'x' }, 'must be {env: NAME} or {file: /path}'],
  ])('refuses %s, without echoing it', (_, value, message) => {
    const result = secretRefSchema.safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([message]);
  });

  test('names the reference, never a value', () => {
    expect(describeSecretRef({ env: 'PGPASSWORD' })).toBe('environment variable PGPASSWORD');
    expect(describeSecretRef({ file: '/k' })).toBe('file /k');
  });
});

describe('resolveSecret', () => {
  test('from the environment, registered for redaction', () => {
    expect(resolveSecret({ env: 'S' }, { S: 'env-secret-value' })).toBe('env-secret-value');
    expect(redact('x env-secret-value')).toBe('x [redacted]');
  });

  test('an unset or empty variable: which one, and what to export', () => {
    for (const env of [{}, { S: '' }]) {
      expect(refused(() => resolveSecret({ env: 'S' }, env))).toEqual(
        new UsageError(
          'The secret environment variable S is not set.',
          'Export S in the environment that runs tier4.',
        ),
      );
    }
  });

  test('from a file, one trailing newline dropped (LF or CRLF), registered for redaction', async () => {
    const d = await dir();
    await writeFile(join(d, 'lf'), 'file-secret-lf\n\n');
    await writeFile(join(d, 'crlf'), 'file-secret-crlf\r\n');
    expect(resolveSecret({ file: join(d, 'lf') })).toBe('file-secret-lf\n');
    expect(resolveSecret({ file: join(d, 'crlf') })).toBe('file-secret-crlf');
    expect(redact('file-secret-crlf')).toBe('[redacted]');
  });

  test('a file of several lines (an age identity file with its comment) keeps its inner newlines', async () => {
    const d = await dir();
    await writeFile(join(d, 'identity'), '# created: 2026-11-30\nAGE-SECRET-KEY-1QQQQ\n');
    expect(resolveSecret({ file: join(d, 'identity') })).toBe('# created: 2026-11-30\nAGE-SECRET-KEY-1QQQQ');
  });

  test('a missing file, a folder, an empty file: each a clear usage error', async () => {
    const d = await dir();
    await writeFile(join(d, 'empty'), '\n');
    expect(refused(() => resolveSecret({ file: join(d, 'missing') }))).toEqual(
      new UsageError(
        `The secret file ${join(d, 'missing')} cannot be read (ENOENT).`,
        'Check the path and that this user may read it.',
      ),
    );
    expect(refused(() => resolveSecret({ file: d }))).toEqual(
      new UsageError(
        `The secret file ${d} is not a regular file.`,
        'Point it at a file that holds the secret.',
      ),
    );
    expect(refused(() => resolveSecret({ file: join(d, 'empty') }))).toEqual(
      new UsageError(`The secret file ${join(d, 'empty')} is empty.`),
    );
  });

  test('a file of 64 KiB is read; one byte more is refused as not a secret file', async () => {
    const d = await dir();
    await writeFile(join(d, 'max'), 'k'.repeat(64 * 1024));
    await writeFile(join(d, 'big'), 'k'.repeat(64 * 1024 + 1));
    expect(resolveSecret({ file: join(d, 'max') })).toHaveLength(64 * 1024);
    expect(refused(() => resolveSecret({ file: join(d, 'big') }))).toEqual(
      new UsageError(
        `The secret file ${join(d, 'big')} is larger than 64 KiB (65537 bytes): it is not a secret file.`,
        'Check the path; a secret file holds one key or password.',
      ),
    );
  });
});

describe('digests', () => {
  const chunks = () => Readable.from([Buffer.from('ab'), Buffer.from('c'), Buffer.from('def')]);
  const sha = createHash('sha256').update('abcdef').digest();
  const md5 = createHash('md5').update('abcdef').digest();

  test('digestOf counts every chunk and hashes them in order: SHA-256 hex by default, or MD5 base64', async () => {
    expect(await digestOf(chunks())).toEqual({ bytes: 6, digest: sha.toString('hex') });
    expect(await digestOf(chunks(), 'md5', 'base64')).toEqual({ bytes: 6, digest: md5.toString('base64') });
  });

  test('DigestStream passes the bytes through unchanged while counting and hashing them', async () => {
    const seen: Buffer[] = [];
    const digest = new DigestStream();
    await pipeline(chunks(), digest, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) seen.push(chunk);
    });
    expect(Buffer.concat(seen).toString()).toBe('abcdef');
    expect(digest.bytes).toBe(6);
    expect(digest.digest()).toBe(sha.toString('hex'));
    const md5Stream = new DigestStream('md5');
    await pipeline(chunks(), md5Stream, async (source: AsyncIterable<Buffer>) => {
      for await (const _ of source);
    });
    expect(md5Stream.digest('base64')).toBe(md5.toString('base64'));
  });
});
