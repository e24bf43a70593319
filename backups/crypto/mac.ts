import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export { canonicalJson };

/**
 * Manifests carry an HMAC-SHA256 with a key derived (HKDF) from the repository's integrity key and the site,
 * so anyone who can write to the repository but does not hold the key cannot alter a manifest unnoticed.
 */
export function deriveMacKey(integrityKey: string, site: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', Buffer.from(integrityKey, 'utf8'), 'tier4-repository', `manifest-mac/v1/${site}`, 32),
  );
}

export function macOf(key: Buffer, value: unknown): string {
  return createHmac('sha256', key).update(canonicalJson(value)).digest('hex');
}

export function macMatches(key: Buffer, value: unknown, mac: string): boolean {
  const expected = Buffer.from(macOf(key, value), 'hex');
  const given = Buffer.from(mac, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
