import { describe, expect, test } from 'vitest';
import { canonicalJson, deriveMacKey, macMatches, macOf } from '../../backups/crypto/mac.js';
import { type ManifestBody, manifestObjects, openManifest, sealManifest } from '../../backups/manifest.js';
import { manifestBody } from './fixtures.js';

// What a stored manifest must be before any backup set is trusted (backups/manifest.ts, backups/crypto/mac.ts):
// each field's rule is checked on a manifest that is otherwise sound and correctly sealed, so only that rule
// can refuse it.

// Derived inside each test, never at import: a mutant that throws there must fail tests, not the file's import.
const key = () => deriveMacKey('integrity-key-for-tests', 'demo');
const otherKey = () => deriveMacKey('integrity-key-for-tests', 'other-site');

const body = () => manifestBody('20261130T010000Z-abcd', 'demo');

const stored = (value: unknown) => Buffer.from(JSON.stringify(value));
const open = (value: ManifestBody) => openManifest(stored(sealManifest(value, key())), [key()], value.id);
const SHAPE = { ok: false, reason: 'manifest does not have the expected shape' };

describe('openManifest', () => {
  test('a sound manifest sealed with the key opens, and names its objects database first', () => {
    const sealed = sealManifest(body(), key());
    const opened = openManifest(stored(sealed), [otherKey(), key()], sealed.id);
    expect(opened).toEqual({ ok: true, manifest: sealed });
    expect(manifestObjects(sealed).map((object) => object.object)).toEqual([
      'demo/sets/20261130T010000Z-abcd/database.dump.age',
      'demo/blobs/bl/blob0001.age',
    ]);
  });

  test('text that is not JSON is refused as such', () => {
    expect(openManifest(Buffer.from('{"format":'), [key()], 'x')).toEqual({
      ok: false,
      reason: 'manifest is not valid JSON',
    });
  });

  test('a manifest sealed with another key is refused: altered, or another integrity key', () => {
    const sealed = sealManifest(body(), otherKey());
    expect(openManifest(stored(sealed), [key()], sealed.id)).toEqual({
      ok: false,
      reason: 'manifest MAC does not match: it was altered, or the integrity key is different',
    });
    const altered = { ...sealManifest(body(), key()), site: 'elsewhere' };
    expect(openManifest(stored(altered), [key()], altered.id).ok).toBe(false);
  });

  test('a sound manifest stored under another set id is refused, naming both', () => {
    expect(openManifest(stored(sealManifest(body(), key())), [key()], '20261201T010000Z-ffff')).toEqual({
      ok: false,
      reason: 'manifest names set 20261130T010000Z-abcd, not 20261201T010000Z-ffff',
    });
  });

  test('a MAC that is not 64 hex digits is a shape error', () => {
    for (const mac of ['A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), `x${'a'.repeat(64)}`]) {
      expect(openManifest(stored({ ...body(), mac }), [key()], body().id)).toEqual(SHAPE);
    }
  });

  const damaged: Array<[string, (value: ManifestBody) => void]> = [
    ['another format', (v) => Object.assign(v, { format: 'tier4-backup-set/2' })],
    ['a negative object size', (v) => Object.assign(v.database, { size: -1 })],
    ['a fractional object size', (v) => Object.assign(v.database, { size: 1.5 })],
    ['an upper-case digest', (v) => Object.assign(v.database, { sha256: 'A'.repeat(64) })],
    ['a digest one digit short', (v) => Object.assign(v.database, { sha256: 'a'.repeat(63) })],
    ['a digest one digit long', (v) => Object.assign(v.database, { sha256: 'a'.repeat(65) })],
    ['a digest after other text', (v) => Object.assign(v.database, { sha256: `x${'a'.repeat(64)}` })],
    ['a negative plain size', (v) => Object.assign(v.database, { plainSize: -1 })],
    ['a fractional plain size', (v) => Object.assign(v.database, { plainSize: 0.5 })],
    ['another dump format', (v) => Object.assign(v.database, { format: 'plain' })],
    [
      'another compression method',
      (v) => Object.assign(v.database, { compression: { method: 'gzip', level: 6 } }),
    ],
    [
      'a fractional compression level',
      (v) => Object.assign(v.database, { compression: { method: 'brotli', level: 5.5 } }),
    ],
    ['a fractional server major', (v) => Object.assign(v.database, { serverMajor: 15.5 })],
    ['a negative row count', (v) => Object.assign(v.database, { rowCounts: { cases: -1 } })],
    ['a fractional row count', (v) => Object.assign(v.database, { rowCounts: { cases: 1.5 } })],
    ['another encryption scheme', (v) => Object.assign(v.encryption, { scheme: 'gpg' })],
    ['no recipients', (v) => Object.assign(v.encryption, { recipients: [] })],
    ['a negative attachment count', (v) => Object.assign(v.attachments, { count: -1 })],
    ['fractional attachment bytes', (v) => Object.assign(v.attachments, { plainBytes: 0.5 })],
    ['negative stored bytes', (v) => Object.assign(v.attachments, { storedBytes: -1 })],
    ['a negative upload count', (v) => Object.assign(v.attachments, { uploaded: -1 })],
    ['negative uploaded bytes', (v) => Object.assign(v.attachments, { uploadedBytes: -1 })],
    ['a negative reuse count', (v) => Object.assign(v.attachments, { reused: -1 })],
    [
      'an unknown problem',
      (v) => Object.assign(v.attachments, { problems: [{ key: 'k', problem: 'lost' }] }),
    ],
    ['a blob with a negative plain size', (v) => Object.assign(v.attachments.blobs[0]!, { plainSize: -1 })],
    ['a blob with a bad digest', (v) => Object.assign(v.attachments.blobs[0]!, { sha256: 'z'.repeat(64) })],
    ['a blob without its key', (v) => Object.assign(v.attachments.blobs[0]!, { key: undefined })],
  ];
  test.each(damaged)('a correctly sealed manifest with %s is a shape error', (_, damage) => {
    const value = body();
    damage(value);
    expect(open(value)).toEqual(SHAPE);
  });

  test('a dump compressed with brotli at a whole level is accepted', () => {
    const value = body();
    value.database.compression = { method: 'brotli', level: 5 };
    expect(open(value).ok).toBe(true);
  });

  test('every problem kind of attachments is accepted, with or without a blob id', () => {
    const value = body();
    value.attachments.problems = ['missing', 'checksum-mismatch', 'unsafe-key', 'unsafe-path'].map(
      (problem) => ({
        key: 'k',
        problem: problem as 'missing',
      }),
    );
    expect(open(value).ok).toBe(true);
  });
});

describe('manifest MAC', () => {
  test('the key derivation is stable: manifests written by earlier versions still verify', () => {
    expect(key().toString('hex')).toBe('ffd3a99387e54e024773f380f1a18a04dbbbc09d4128ccbe0e134ef0eb841e2f');
    expect(otherKey().equals(key())).toBe(false);
    expect(deriveMacKey('another-integrity-key', 'demo').equals(key())).toBe(false);
  });

  test('canonical JSON sorts keys at every level, drops undefined members and keeps array order', () => {
    expect(canonicalJson({ b: [2, { d: 'x', c: null, e: undefined }], a: 1 })).toBe(
      '{"a":1,"b":[2,{"c":null,"d":"x"}]}',
    );
    expect(canonicalJson({ B: 1, a: 2, A: 3 })).toBe('{"A":3,"B":1,"a":2}');
    expect(macOf(key(), { b: [2, { d: 'x', c: null }], a: 1 })).toBe(
      '99e65f2b1e59a6928ca6daf2bdb62f70377361a91b6344926fc1d0f2a57d25b7',
    );
  });

  test('a MAC of another length or value does not match, and does not throw', () => {
    const mac = macOf(key(), { a: 1 });
    expect(macMatches(key(), { a: 1 }, mac)).toBe(true);
    expect(macMatches(key(), { a: 2 }, mac)).toBe(false);
    expect(macMatches(key(), { a: 1 }, mac.slice(0, 62))).toBe(false);
    expect(macMatches(otherKey(), { a: 1 }, mac)).toBe(false);
  });
});
