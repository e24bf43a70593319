import 'reflect-metadata';
import { createPrivateKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** Certificates for tests, generated in the tests: a CA, intermediates, leaves good and bad. */

x509.cryptoProvider.set(webcrypto as never);

type Keys = webcrypto.CryptoKeyPair;
const DAY = 86_400_000;

export interface Issuer {
  name: string;
  keys: Keys;
  cert: x509.X509Certificate;
  /** PEM of this CA (and, for an intermediate, nothing else). */
  pem: string;
  /** Intermediates between a leaf issued here and the root, leaf side first. */
  chain: string[];
}

export interface TestPair {
  cert: string;
  key: string;
  /** The leaf alone. */
  leaf: string;
}

async function ecKeys(): Promise<Keys> {
  return (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as Keys;
}

async function rsaKeys(bits: number): Promise<Keys> {
  return (await webcrypto.subtle.generateKey(
    {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: bits,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    },
    true,
    ['sign', 'verify'],
  )) as Keys;
}

export async function keyPem(keys: Keys): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;
}

function signing(keys: Keys) {
  return keys.privateKey.algorithm.name === 'ECDSA'
    ? { name: 'ECDSA', hash: 'SHA-256' }
    : { name: 'RSASSA-PKCS1-v1_5' };
}

let serial = 1;
const nextSerial = () =>
  (Date.now().toString(16) + (serial++).toString(16).padStart(4, '0')).slice(-16).replace(/^[89a-f]/, '1');

export async function createRootCa(name: string): Promise<Issuer> {
  const keys = await ecKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 3650 * DAY),
    keys,
    signingAlgorithm: signing(keys),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { name, keys, cert, pem: cert.toString('pem'), chain: [] };
}

export async function createIntermediate(parent: Issuer, name: string): Promise<Issuer> {
  const keys = await ecKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: `CN=${name}`,
    issuer: parent.cert.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 1825 * DAY),
    publicKey: keys.publicKey,
    signingKey: parent.keys.privateKey,
    signingAlgorithm: signing(parent.keys),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(parent.keys.publicKey),
    ],
  });
  const pem = cert.toString('pem');
  return { name, keys, cert, pem, chain: [pem, ...parent.chain] };
}

export interface LeafOptions {
  names: string[];
  /** Days from now; negative for an expired certificate. */
  notAfterDays?: number;
  notBeforeDays?: number;
  key?: 'ec' | { rsa: number };
  /** Leave the intermediates out of the chain file. */
  omitChain?: boolean;
  /** The extended key usage (default serverAuth). */
  purpose?: 'serverAuth' | 'clientAuth';
}

export async function issueLeaf(issuer: Issuer, options: LeafOptions): Promise<TestPair> {
  const keys =
    options.key === undefined || options.key === 'ec' ? await ecKeys() : await rsaKeys(options.key.rsa);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: `CN=${options.names[0] ?? 'no-name'}`,
    issuer: issuer.cert.subject,
    notBefore: new Date(Date.now() + (options.notBeforeDays ?? -1) * DAY),
    notAfter: new Date(Date.now() + (options.notAfterDays ?? 90) * DAY),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: signing(issuer.keys),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage[options.purpose ?? 'serverAuth']]),
      ...(options.names.length > 0
        ? [
            new x509.SubjectAlternativeNameExtension(
              options.names.map((value) => ({ type: 'dns' as const, value })),
            ),
          ]
        : []),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
    ],
  });
  const leaf = cert.toString('pem');
  const chain = options.omitChain ? [leaf] : [leaf, ...issuer.chain];
  return { cert: `${chain.join('\n')}\n`, key: await keyPem(keys), leaf };
}
