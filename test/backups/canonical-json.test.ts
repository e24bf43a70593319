import { describe, expect, test } from 'vitest';
import { canonicalJson, recursiveCanonicalJson } from '../../backups/crypto/canonical-json.js';

// A manifest's MAC covers canonicalJson(body): the fast path must write exactly the bytes of the definition for
// every value, or sets written before it stop verifying.
describe('canonicalJson', () => {
  const cases: Array<[string, unknown]> = [
    ['nested objects out of order', { b: [2, { d: 'x', c: null, e: undefined }], a: 1 }],
    ['keys by code unit, not locale', { B: 1, a: 2, A: 3, é: 4, Z: 5, '': 6, ' ': 7 }],
    ['integer-like keys (JS keeps them in numeric order)', { 10: 'a', 9: 'b', x: { 2: 1, 1: 2 } }],
    ['undefined, functions and holes in arrays', [1, undefined, () => 1, null, new Array(2)]],
    ['function and symbol members', { a: () => 1, b: Symbol('s'), c: 1 }],
    ['a Date and an object with toJSON', { when: new Date(0), custom: { toJSON: () => 'x', v: 1 } }],
    ['a null-prototype object', Object.assign(Object.create(null), { b: 1, a: 2 })],
    ['strings that need escaping', { '"quote"': 'line\nbreak\u2028\u0000', '\\': '\ud800' }],
    ['numbers JSON cannot hold', { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, neg: -0, big: 1e21 }],
    ['top-level scalars', 'plain'],
    ['undefined at the top', undefined],
    ['an empty object and array', { a: {}, b: [] }],
    ['a __proto__ member, as JSON.parse makes it', JSON.parse('{"b":1,"__proto__":{"x":1},"a":2}')],
  ];
  test.each(cases)('%s: the same bytes as the recursive definition', (_name, value) => {
    expect(canonicalJson(value)).toBe(recursiveCanonicalJson(value));
  });

  test('a manifest-shaped value: sorted at every level', () => {
    const blobs = Array.from({ length: 3 }, (_, i) => ({
      key: `k${i}`,
      object: `s/blobs/k${i}.age`,
      size: i,
      sha256: 'a'.repeat(64),
      plainSize: i,
      checksum: null,
    }));
    expect(canonicalJson({ id: 'x', attachments: { count: 3, blobs } })).toBe(
      `{"attachments":{"blobs":[${blobs
        .map(
          (b) =>
            `{"checksum":null,"key":"${b.key}","object":"${b.object}","plainSize":${b.plainSize},"sha256":"${b.sha256}","size":${b.size}}`,
        )
        .join(',')}],"count":3},"id":"x"}`,
    );
  });

  test('random JSON-like values give the same bytes as the definition', () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const keys = ['a', 'B', 'b', '10', '9', 'é', 'key', 'sha256', 'x y', ''];
    const make = (depth: number): unknown => {
      const pick = next() % (depth > 3 ? 5 : 8);
      if (pick === 0) return null;
      if (pick === 1) return next() % 1000;
      if (pick === 2) return `s${next() % 50}`;
      if (pick === 3) return next() % 2 === 0;
      if (pick === 4) return next() % 3 === 0 ? undefined : 'u';
      if (pick === 5) return Array.from({ length: next() % 4 }, () => make(depth + 1));
      const object: Record<string, unknown> = {};
      for (let i = next() % 5; i > 0; i -= 1) object[keys[next() % keys.length]!] = make(depth + 1);
      return object;
    };
    for (let i = 0; i < 500; i += 1) {
      const value = make(0);
      expect(canonicalJson(value)).toBe(recursiveCanonicalJson(value));
    }
  });

  test('a BigInt still cannot be written', () => {
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
  });
});
