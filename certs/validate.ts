import type { X509Certificate } from 'node:crypto';
import {
  allowsPurpose,
  type CertificateInfo,
  coversName,
  DAY_MS,
  describeCertificate,
  keyStrengthProblem,
  notAfterDate,
  parsePemCertificates,
  parsePrivateKey,
} from './certificate.js';

export interface PairCheck {
  info: CertificateInfo;
  leaf: X509Certificate;
  /** Empty when the pair may be installed. */
  problems: string[];
}

/**
 * The checks a new certificate and key must pass before anything is changed: the key matches, the chain
 * reaches a trusted CA, the names are covered, it is valid now with more than failDays left, the key is strong.
 */
export function checkNewPair(
  pem: { cert: string; key: string },
  policy: { names: string[]; anchors: X509Certificate[]; failDays: number; now?: Date },
  labels: { cert: string; key: string } = { cert: 'the certificate file', key: 'the key file' },
): PairCheck {
  const now = policy.now ?? new Date();
  const chain = parsePemCertificates(pem.cert, labels.cert);
  const key = parsePrivateKey(pem.key, labels.key);
  const leaf = chain[0]!;
  const info = describeCertificate(chain, policy.anchors, now);
  const problems: string[] = [];

  if (!leaf.checkPrivateKey(key)) problems.push('the key does not belong to the certificate');
  if (!info.chain.complete) problems.push(`the chain does not reach a trusted CA: ${info.chain.problem}`);
  else if (!info.chain.trusted)
    problems.push(`the chain is not trusted: ${info.chain.problem} (add your CA to tls.caFile)`);
  const missing = policy.names.filter((name) => !coversName(leaf, name));
  if (missing.length > 0) {
    problems.push(
      `its subject alternative names (${info.sans.join(', ') || 'none'}) do not cover ${missing.join(', ')}`,
    );
  }
  if (new Date(leaf.validFrom).getTime() > now.getTime())
    problems.push(`it is not valid before ${info.notBefore}`);
  if (notAfterDate(leaf).getTime() <= now.getTime()) problems.push(`it expired on ${info.notAfter}`);
  else if (notAfterDate(leaf).getTime() - now.getTime() <= policy.failDays * DAY_MS) {
    problems.push(`it expires in ${info.daysLeft} days, not more than failDays (${policy.failDays})`);
  }
  // Without the extension a certificate may serve any purpose (RFC 5280 section 4.2.1.12); with it, TLS
  // clients refuse a server certificate that does not list serverAuth.
  if (!allowsPurpose(leaf, 'serverAuth', false))
    problems.push(
      `its extended key usage (${leaf.keyUsage?.join(', ')}) lacks serverAuth: it is not a server certificate`,
    );
  const weak = keyStrengthProblem(leaf.publicKey);
  if (weak) problems.push(weak);
  return { info, leaf, problems };
}
