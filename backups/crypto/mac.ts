import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Manifests carry an HMAC-SHA256 with a key derived (HKDF) from the repository's integrity key and the site,
 * so anyone who can write to the repository but does not hold the key cannot alter a manifest unnoticed.
 */
export function deriveMacKey(integrityKey: string, site: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', Buffer.from(integrityKey, 'utf8'), 'tier4-repository', `manifest-mac/v1/${site}`, 32),
  );
}

/** JSON with object keys sorted at every level: the same value always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function macOf(key: Buffer, value: unknown): string {
  return createHmac('sha256', key).update(canonicalJson(value)).digest('hex');
}

export function macMatches(key: Buffer, value: unknown, mac: string): boolean {
  const expected = Buffer.from(macOf(key, value), 'hex');
  const given = Buffer.from(mac, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
