/**
 * The one redaction helper. Every line tier4 prints, logs or stores as an error goes through it.
 * It removes the values of every secret resolved in this process, and anything shaped like a secret
 * (URL passwords, age identities, PEM private keys, Authorization headers) even when it was never resolved.
 */

const REDACTED = '[redacted]';
const knownSecrets = new Set<string>();

/** Secrets shorter than this are not tracked: replacing them would mangle ordinary text. */
const MIN_TRACKED_LENGTH = 6;

export function registerSecret(value: string): void {
  const trimmed = value.trim();
  if (trimmed.length >= MIN_TRACKED_LENGTH) knownSecrets.add(trimmed);
  // Secrets are often seen percent-encoded inside URLs.
  const encoded = encodeURIComponent(trimmed);
  if (encoded !== trimmed && encoded.length >= MIN_TRACKED_LENGTH) knownSecrets.add(encoded);
}

const SHAPED_SECRETS: Array<[RegExp, string]> = [
  // A whole or cut-off block: from its BEGIN line (even cut short after PRIVATE) to its END line or the end.
  [/-----BEGIN [A-Z0-9 ]*PRIVATE[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, `${REDACTED} private key`],
  // The tail of a block whose BEGIN was cut off (output kept from its last lines): body lines up to the END line.
  [
    /(?:^[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*\r?\n)*[^\n]*-----END [A-Z0-9 ]*PRIVATE KEY-----/gm,
    `${REDACTED} private key`,
  ],
  // Body lines with neither marker: two or more full base64 lines in a row (PEM wraps at 64 characters).
  [/(?:^[ \t]*[A-Za-z0-9+/]{64}[ \t]*(?:\r?\n|$)){2,}/gm, `${REDACTED} key material\n`],
  [/AGE-SECRET-KEY-1[0-9A-Z]+/g, `AGE-SECRET-KEY-${REDACTED}`],
  // userinfo password in any URL: scheme://user:password@host
  [/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, `$1${REDACTED}@`],
  [/(authorization:\s*(?:basic|bearer)\s+)[^\s'"]+/gi, `$1${REDACTED}`],
  [
    /\b(PGPASSWORD|AZURE_STORAGE_KEY|AWS_SECRET_ACCESS_KEY|AccountKey|SharedAccessSignature)=[^\s;&'"]+/g,
    `$1=${REDACTED}`,
  ],
  [/([?&](?:sig|password)=)[^\s&'"]+/gi, `$1${REDACTED}`],
];

export function redact(text: string): string {
  let out = text;
  if (knownSecrets.size > 0) {
    // Longest first, so a secret that contains another is removed whole.
    const ordered = [...knownSecrets].sort((a, b) => b.length - a.length);
    for (const secret of ordered) out = out.split(secret).join(REDACTED);
  }
  // Whole public blocks (certificates, CSRs, public keys) are what commands exist to print: set them aside so
  // the rule for bare base64 lines does not take them for key material, then put them back.
  const kept: string[] = [];
  out = out.replace(PUBLIC_BLOCK, (block) => `\u0000${kept.push(block) - 1}\u0000`);
  for (const [pattern, replacement] of SHAPED_SECRETS) out = out.replace(pattern, replacement);
  return out.replace(/\u0000(\d+)\u0000/g, (_, index: string) => kept[Number(index)] ?? '');
}

/** A complete PEM block of public material, with matching BEGIN and END labels (RFC 7468). */
const PUBLIC_BLOCK =
  /-----BEGIN (CERTIFICATE|CERTIFICATE REQUEST|NEW CERTIFICATE REQUEST|PUBLIC KEY|X509 CRL)-----\r?\n[A-Za-z0-9+/=\r\n]*?-----END \1-----/g;

/** Redacts every string inside a JSON-like value (for --json output). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item)) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = redactDeep(item);
    return out as T;
  }
  return value;
}
