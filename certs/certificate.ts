import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { UsageError } from '../core/errors.js';

/**
 * Reading certificates and describing them: what `certs status` prints and `certs rotate` checks.
 * Parsing and signature checks are Node's (OpenSSL); nothing here decodes ASN.1 by hand.
 */

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM bundle, in file order (leaf first for a server chain). */
export function parsePemCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new UsageError(`${what} holds no PEM certificate.`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new UsageError(`${what}: certificate ${index + 1} cannot be parsed.`);
    }
  });
}

export function parsePrivateKey(pem: string, what: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MISSING_PASSPHRASE') {
      throw new UsageError(
        `${what} is encrypted with a passphrase.`,
        'nginx needs an unencrypted key: `openssl pkey -in key.pem -out plain.pem`, then keep it mode 0600.',
      );
    }
    // Never include the key text in the message.
    throw new UsageError(`${what} is not a PEM private key.`);
  }
}

export interface ChainCheck {
  /** Every issuer up to a self-signed or trusted certificate is present. */
  complete: boolean;
  /** The path ends at a trusted CA (the system store or tls.caFile). */
  trusted: boolean;
  /** Subject of the trusted CA that anchors the chain. */
  anchor: string | null;
  problem: string | null;
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** Builds the path from the leaf through the given intermediates to a trust anchor. */
export function checkChain(chain: X509Certificate[], anchors: X509Certificate[]): ChainCheck {
  let current = chain[0];
  if (!current) return { complete: false, trusted: false, anchor: null, problem: 'no certificate' };
  const used = new Set<string>([current.fingerprint256]);
  for (let depth = 0; depth < 10; depth++) {
    const anchor = anchors.find((candidate) => issuedBy(current!, candidate));
    if (anchor) return { complete: true, trusted: true, anchor: oneLine(anchor.subject), problem: null };
    if (issuedBy(current, current)) {
      return {
        complete: true,
        trusted: false,
        anchor: null,
        problem: `the chain ends at the self-signed "${oneLine(current.subject)}", which is not a trusted CA`,
      };
    }
    const next = chain.find(
      (candidate) => !used.has(candidate.fingerprint256) && issuedBy(current!, candidate),
    );
    if (!next) {
      return {
        complete: false,
        trusted: false,
        anchor: null,
        problem: `the issuer of "${oneLine(current.subject)}" ("${oneLine(current.issuer)}") is neither in the chain nor a trusted CA`,
      };
    }
    used.add(next.fingerprint256);
    current = next;
  }
  return {
    complete: false,
    trusted: false,
    anchor: null,
    problem: 'the chain is longer than 10 certificates',
  };
}

let systemAnchors: X509Certificate[] | undefined;

/** The system's trusted CAs plus the site's own (tls.caFile). */
export function trustAnchors(extraPem?: string): X509Certificate[] {
  systemAnchors ??= rootCertificates.map((pem) => new X509Certificate(pem));
  return extraPem === undefined
    ? systemAnchors
    : [...parsePemCertificates(extraPem, 'tls.caFile'), ...systemAnchors];
}

export interface CertificateInfo {
  subject: string;
  sans: string[];
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter; negative once expired. */
  daysLeft: number;
  /** Uppercase hex with colons, as `openssl x509 -fingerprint` prints. */
  sha1: string;
  sha256: string;
  keyType: string;
  keySize: number | null;
  /** Certificates in the chain as presented (served) or stored, leaf included. */
  chainLength: number;
  chain: ChainCheck;
}

/** Node prints distinguished names one attribute per line. */
function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };

export function describeKey(key: KeyObject): { keyType: string; keySize: number | null } {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return { keyType: key.asymmetricKeyType.toUpperCase(), keySize: details.modulusLength ?? null };
    case 'ec': {
      const curve = details.namedCurve ?? 'unknown';
      return { keyType: `EC ${curve}`, keySize: CURVE_BITS[curve] ?? null };
    }
    default:
      return { keyType: String(key.asymmetricKeyType ?? 'unknown').toUpperCase(), keySize: null };
  }
}

export function subjectAltNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter(Boolean)
    .map((entry) => entry.replace(/^DNS:/, '').replace(/^IP Address:/, ''));
}

export const DAY_MS = 86_400_000;

export function notAfterDate(cert: X509Certificate): Date {
  return new Date(cert.validTo);
}

export function describeCertificate(
  chain: X509Certificate[],
  anchors: X509Certificate[],
  now: Date = new Date(),
): CertificateInfo {
  const leaf = chain[0];
  if (!leaf) throw new UsageError('No certificate to describe.');
  const notAfter = notAfterDate(leaf);
  return {
    subject: oneLine(leaf.subject),
    sans: subjectAltNames(leaf),
    issuer: oneLine(leaf.issuer),
    serial: leaf.serialNumber.toUpperCase(),
    notBefore: new Date(leaf.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS),
    sha1: leaf.fingerprint.toUpperCase(),
    sha256: leaf.fingerprint256.toUpperCase(),
    ...describeKey(leaf.publicKey),
    chainLength: chain.length,
    chain: checkChain(chain, anchors),
  };
}

/** Does the certificate cover this name? SANs only: browsers ignore the subject CN. */
export function coversName(cert: X509Certificate, name: string): boolean {
  if (/^[\d.]+$/.test(name) || name.includes(':')) return cert.checkIP(name) !== undefined;
  return cert.checkHost(name, { subject: 'never' }) !== undefined;
}

/** The key-strength policy: RSA of at least 2048 bits, or ECDSA on P-256 or larger. */
export function keyStrengthProblem(key: KeyObject): string | null {
  const { keyType, keySize } = describeKey(key);
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    return (keySize ?? 0) >= 2048
      ? null
      : `the key is ${keyType} ${keySize ?? '?'}; at least RSA 2048 is required`;
  }
  if (key.asymmetricKeyType === 'ec') {
    return keySize !== null ? null : `the key is ${keyType}; use P-256, P-384 or P-521`;
  }
  return `the key type ${keyType} is not accepted; use RSA (2048 or more) or ECDSA P-256`;
}

/** Extended key usages (RFC 5280 section 4.2.1.12): id-kp-serverAuth, id-kp-clientAuth, anyExtendedKeyUsage. */
const PURPOSE_OID = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;
const ANY_PURPOSE_OID = '2.5.29.37.0';

/**
 * Whether the certificate's extended key usage lists `purpose` (or any purpose). Node's `keyUsage` holds the
 * extended key usage OIDs, undefined when the extension is absent: `strict` says whether that counts as no.
 */
export function allowsPurpose(
  cert: X509Certificate,
  purpose: keyof typeof PURPOSE_OID,
  strict: boolean,
): boolean {
  const usages = cert.keyUsage;
  if (!usages) return !strict;
  return usages.includes(PURPOSE_OID[purpose]) || usages.includes(ANY_PURPOSE_OID);
}
