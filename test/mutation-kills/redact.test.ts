import { describe, expect, test } from 'vitest';
import { redact, redactDeep, registerSecret } from '../../core/redact.js';

// Exact outputs of the redaction rules (core/redact.ts): what is removed, and what of the text around it stays.
// Each case is one a weaker rule gets wrong (docs/mutation.md lists the Stryker survivors these kill).

const line = (seed: string, length: number) => seed.repeat(Math.ceil(length / seed.length)).slice(0, length);
/** Short base64 lines, as a PEM body cut by a log or a terminal (shorter than a full 64-character PEM line). */
const shortBody = [line('QUJDREVGR0hJ', 24), line('S0xNTk9QUVJT', 24)];
/** Full 64-character PEM lines: key material with neither marker. */
const fullLines = [
  line('TUlJRXZRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFB', 64),
  line('U0NBbUF3Z2dKZUFnRUFBb0lCQVFD', 64),
];

describe('registered secrets', () => {
  test('are trimmed before they are remembered', () => {
    registerSecret('  trimmed-secret-one \n');
    expect(redact('value=trimmed-secret-one;')).toBe('value=[redacted];');
  });

  test('of exactly six characters are removed; shorter ones would mangle text and are not tracked', () => {
    registerSecret('sx6q9z');
    registerSecret('q7zk');
    expect(redact('a sx6q9z b q7zk c')).toBe('a [redacted] b q7zk c');
  });

  test('their percent-encoded form is tracked once it is six characters long, even when the secret is shorter', () => {
    registerSecret('zq w');
    registerSecret('v y');
    expect(redact('u=zq%20w&v=v%20y&raw=zq w')).toBe('u=[redacted]&v=v%20y&raw=zq w');
  });

  test('a secret that contains another is removed whole, whatever order they were registered in', () => {
    registerSecret('nested-secret');
    registerSecret('nested-secret-longer');
    expect(redact('x nested-secret-longer y nested-secret z')).toBe('x [redacted] y [redacted] z');
  });
});

describe('private key blocks', () => {
  test('a whole block with a labelled BEGIN and END goes, and the lines around it stay', () => {
    for (const label of ['RSA', 'EC', 'ENCRYPTED']) {
      const block = [
        `-----BEGIN ${label} PRIVATE KEY-----`,
        ...shortBody,
        `-----END ${label} PRIVATE KEY-----`,
      ];
      expect(redact(['before', ...block, 'after'].join('\n'))).toBe('before\n[redacted] private key\nafter');
    }
  });

  test('a block cut off after its BEGIN line goes to the end of the text', () => {
    expect(redact(['before', '-----BEGIN PRIVATE KEY-----', ...shortBody].join('\n'))).toBe(
      'before\n[redacted] private key',
    );
  });

  test('the tail of a block whose BEGIN was cut off goes from its first body line to its END line', () => {
    expect(redact(['kept line', ...shortBody, '-----END EC PRIVATE KEY-----', 'next'].join('\n'))).toBe(
      'kept line\n[redacted] private key\nnext',
    );
    // Indented, with trailing blanks, as in a YAML value or a wrapped log.
    expect(
      redact(
        ['kept line', ...shortBody.map((body) => `    ${body}  `), '-----END RSA PRIVATE KEY-----'].join(
          '\n',
        ),
      ),
    ).toBe('kept line\n[redacted] private key');
    // The END line may carry a log prefix; the prefix goes with it.
    expect(redact(['kept line', 'stderr: -----END PRIVATE KEY-----'].join('\n'))).toBe(
      'kept line\n[redacted] private key',
    );
  });

  test('base64 that does not start a line is not taken for a body line', () => {
    expect(
      redact(['id: QUJDREVGR0hJSktMTU5PUFFS', ...shortBody, '-----END PRIVATE KEY-----'].join('\n')),
    ).toBe('id: QUJDREVGR0hJSktMTU5PUFFS\n[redacted] private key');
  });
});

describe('key material with neither marker', () => {
  test('two or more full base64 lines go, also indented with trailing blanks and at the end of the text', () => {
    expect(redact(['head', ...fullLines, 'tail'].join('\n'))).toBe('head\n[redacted] key material\ntail');
    expect(redact(['head', ...fullLines.map((body) => `  ${body} `)].join('\n'))).toBe(
      'head\n[redacted] key material\n',
    );
  });

  test('a single 64-character line (a SHA-256 digest) stays, also after a label on the line before', () => {
    const digest = 'ab'.repeat(32);
    expect(redact(`sha256 ${digest}`)).toBe(`sha256 ${digest}`);
    expect(redact(`object ${digest}\n${digest}\n`)).toBe(`object ${digest}\n${digest}\n`);
  });
});

describe('secret-shaped values', () => {
  test('a URL password goes for any URI scheme (RFC 3986: a letter, then letters, digits, + - .)', () => {
    expect(redact('x://user:pw-secret@host/p')).toBe('x://user:[redacted]@host/p');
    expect(redact('h2://user:pw-secret@host')).toBe('h2://user:[redacted]@host');
    expect(redact('postgresql://primero:pw-secret@db:5432/primero')).toBe(
      'postgresql://primero:[redacted]@db:5432/primero',
    );
  });

  test('an Authorization header without a blank after the colon, or with several before the token', () => {
    expect(redact('Authorization:Bearer tok-abcdef')).toBe('Authorization:Bearer [redacted]');
    expect(redact('Authorization: Basic   dGllcjQ6eA== end')).toBe('Authorization: Basic   [redacted] end');
  });

  test('environment-style and query-string secrets go whole, up to their delimiter', () => {
    expect(redact('PGPASSWORD=hunter22 pg_dump')).toBe('PGPASSWORD=[redacted] pg_dump');
    expect(redact('AccountName=a;AccountKey=abc123==;EndpointSuffix=x')).toBe(
      'AccountName=a;AccountKey=[redacted];EndpointSuffix=x',
    );
    expect(redact('https://a.blob.core.windows.net/c?sv=1&sig=abcdef123&se=2')).toBe(
      'https://a.blob.core.windows.net/c?sv=1&sig=[redacted]&se=2',
    );
  });
});

describe('public blocks and structured values', () => {
  test('eleven certificates in one text are all put back whole', () => {
    const certificate = (index: number) =>
      `-----BEGIN CERTIFICATE-----\n${line(`Q0VSVA${index}`, 64)}\n${line(`Qk9EWQ${index}`, 64)}\n-----END CERTIFICATE-----`;
    const text = Array.from({ length: 11 }, (_, index) => certificate(index)).join('\n');
    expect(redact(text)).toBe(text);
  });

  test('dates and nulls inside a JSON-like value stay as they are', () => {
    const at = new Date('2026-11-30T00:00:00Z');
    const out = redactDeep({ at, note: 'PGPASSWORD=pw123456', none: null });
    expect(out.at).toBeInstanceOf(Date);
    expect(out.at.getTime()).toBe(at.getTime());
    expect(out.note).toBe('PGPASSWORD=[redacted]');
    expect(out.none).toBeNull();
  });
});
