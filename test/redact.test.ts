import { describe, expect, test } from 'vitest';
import { redact, redactDeep, registerSecret } from '../core/redact.js';
import { testSecret } from './support/secrets.js';

describe('redact', () => {
  test('removes registered secrets, also percent-encoded', () => {
    const secret = `${testSecret('redact')}/+=`;
    registerSecret(secret);
    const out = redact(`password was ${secret} and ${encodeURIComponent(secret)}`);
    expect(out).toBe('password was [redacted] and [redacted]');
  });

  test('removes secret-shaped text it was never told about', () => {
    const samples = [
      'postgres://primero:hunter2pass@db:5432/primero',
      'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ',
      '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----',
      'Authorization: Basic dGllcjQ6c2VjcmV0',
      'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc123==;',
      'https://acct.blob.core.windows.net/c?sv=2024&sig=abcdef123',
    ];
    for (const sample of samples) {
      const out = redact(sample);
      expect(out).toContain('[redacted]');
      expect(out).not.toMatch(/hunter2pass|QQQQ|MIIEvQ|dGllcjQ6|abc123==|abcdef123/);
    }
  });

  test('an API token in an Authorization header is redacted, whatever the case of its scheme', () => {
    // A Primero API bearer token in a logged request header: the token goes, the header name stays readable.
    expect(redact('GET /api/v2/roles Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln')).toBe(
      'GET /api/v2/roles Authorization: Bearer [redacted]',
    );
    expect(redact('authorization: bearer tok_123456789')).toBe('authorization: bearer [redacted]');
    expect(redact('Authorization: Basic dGllcjQ6c2VjcmV0 next')).toBe('Authorization: Basic [redacted] next');
  });

  test('leaves ordinary text alone and redacts deep JSON', () => {
    expect(redact('backup 2026-11-21T01:15:00Z: 12 objects, 3.1 MiB')).toBe(
      'backup 2026-11-21T01:15:00Z: 12 objects, 3.1 MiB',
    );
    expect(redactDeep({ a: ['postgres://u:pw123456@h/db'], n: 3 })).toEqual({
      a: ['postgres://u:[redacted]@h/db'],
      n: 3,
    });
  });

  test('removes cut-off private key blocks: no BEGIN, no END, or a marker cut short', async () => {
    const body = Array.from({ length: 4 }, (_, i) => `MIIEvQ${String(i).repeat(58)}`).join('\n');
    const samples = [
      `nginx: [emerg] bad key\n${body}\n-----END PRIVATE KEY-----\nreload failed`,
      `${body}\n-----END RSA PRIVATE KEY-----`,
      `loading\n${body}\nthen it stopped`,
      `-----BEGIN RSA PRIVATE\n${body}`,
    ];
    for (const sample of samples) {
      const out = redact(sample);
      expect(out).toContain('[redacted]');
      expect(out).not.toMatch(/MIIEvQ/);
    }
    // A failing reload command whose output ends in half a key: the error keeps no line of it.
    const { runServerCommand } = await import('../certs/files.js');
    const lines = body.split('\n');
    const script = `printf '%s\\n' ${lines.map((l) => `'${l}'`).join(' ')} '-----END PRIVATE KEY-----' >&2; exit 3`;
    const error = await runServerCommand(script).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/exit 3/);
    expect((error as Error).message.replace(script, '')).not.toMatch(/MIIEvQ/);
  });
});

describe('public PEM blocks stay printable', () => {
  test('a certificate or CSR is printed whole, while key material beside it is still redacted', async () => {
    const { createRootCa } = await import('./support/certs-factory.js');
    const ca = await createRootCa('Printable CA');
    const keyBody = `${'A'.repeat(64)}\n${'B'.repeat(64)}\n`;
    const text = `issued:\n${ca.pem}\nstray key lines:\n${keyBody}`;
    const out = redact(text);
    expect(out).toContain(ca.pem.trim());
    expect(out).not.toContain('A'.repeat(64));
    expect(out).toContain('[redacted] key material');
  });
});
