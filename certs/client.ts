import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LoadedConfig } from '../core/config/load.js';
import { UsageError } from '../core/errors.js';
import { allowsPurpose, DAY_MS, parsePemCertificates, parsePrivateKey } from './certificate.js';
import { buildCsr } from './csr.js';
import {
  type CryptoKeyPair,
  distinguishedName,
  generateKeys,
  type KeyKind,
  privateKeyPem,
  signingAlgorithm,
  writePrivateKeyFile,
  x509,
} from './keys.js';
import { connectKube, putSecret, readSecret, secretText } from './kubernetes.js';
import { siteTls } from './site.js';
import { CLIENT_LABEL } from './status.js';

export interface ClientOptions {
  name: string;
  /** A self-signed certificate (for partners who pin the thumbprint); otherwise a CSR for a CA. */
  selfSigned: boolean;
  /** Files here instead of the configured store. */
  outDir?: string | undefined;
  days?: number | undefined;
  keyType?: KeyKind;
  kubeconfig?: string | undefined;
}

export interface ClientResult {
  site: string;
  name: string;
  /** Where the key (and CSR or certificate) were stored. */
  storedIn: string;
  keyLocation: string;
  csrPem: string | null;
  certPem: string | null;
  /** SHA-1 thumbprint, uppercase hex with colons (as openssl prints it), and without colons. */
  sha1: string | null;
  sha1Hex: string | null;
  notAfter: string | null;
}

const CLIENT_NAME = /^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$/;

async function selfSignedPem(
  name: string,
  keys: CryptoKeyPair,
  kind: KeyKind,
  days: number,
  organization: string,
) {
  const lib = await x509();
  const now = Date.now();
  const cert = await lib.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '7'),
    name: distinguishedName([
      ['CN', name],
      ['O', organization],
    ]),
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + days * DAY_MS),
    keys,
    signingAlgorithm: signingAlgorithm(kind),
    extensions: [
      new lib.BasicConstraintsExtension(false, undefined, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
      new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.clientAuth]),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return cert.toString('pem');
}

/**
 * A client key and either a CSR or a self-signed certificate, stored as files (`<name>.key` 0600,
 * `<name>.csr` / `<name>.crt`) or as a Secret, e.g. for UNHCR proGres v4/DTP, which identifies a client by
 * the certificate's SHA-1 thumbprint.
 */
export async function createClientCertificate(
  loaded: LoadedConfig,
  siteName: string,
  options: ClientOptions,
): Promise<ClientResult> {
  const target = siteTls(loaded, siteName);
  if (!CLIENT_NAME.test(options.name)) {
    throw new UsageError(
      `"${options.name}" is not a usable client name.`,
      'Use lowercase letters, digits and hyphens, such as progres-dtp.',
    );
  }
  const settings = target.tls.clients;
  const days = options.days ?? settings?.validDays ?? 365;
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new UsageError('--days must be between 1 and 3650.');
  const store = options.outDir ? ({ type: 'files', dir: resolve(options.outDir) } as const) : settings?.store;
  if (!store) {
    throw new UsageError(
      `Where should the client certificate of ${target.siteName} be kept?`,
      'Pass --out-dir DIR, or set tls.clients.store to {type: files, dir} or {type: kubernetes-secret}.',
    );
  }
  const kind = options.keyType ?? 'rsa';
  const keys = await generateKeys(kind);
  const organization = loaded.config.deployment.owner ?? loaded.config.deployment.name;
  const certPem = options.selfSigned
    ? await selfSignedPem(options.name, keys, kind, days, organization)
    : null;
  const csrPem = options.selfSigned
    ? null
    : await buildCsr([options.name], keys, kind, { organization }, 'client');
  const keyPem = await privateKeyPem(keys);

  let storedIn: string;
  let keyLocation: string;
  if (store.type === 'files') {
    await mkdir(store.dir, { recursive: true, mode: 0o700 });
    keyLocation = join(store.dir, `${options.name}.key`);
    const other = join(store.dir, `${options.name}.${certPem ? 'crt' : 'csr'}`);
    if (await stat(other).catch(() => undefined)) {
      throw new UsageError(`${other} already exists; nothing was written.`, 'Choose another --name.');
    }
    await writePrivateKeyFile(keyLocation, keyPem);
    await writeFile(other, certPem ?? csrPem ?? '', { mode: 0o644, flag: 'wx' });
    storedIn = store.dir;
  } else {
    const kube = await connectKube({
      namespace: target.namespace,
      context: target.context,
      kubeconfig: options.kubeconfig,
    });
    const secretName = `${store.prefix}${options.name}`;
    await putSecret(
      kube,
      secretName,
      certPem ? 'kubernetes.io/tls' : 'Opaque',
      certPem ? { 'tls.crt': certPem, 'tls.key': keyPem } : { 'tls.key': keyPem, 'tls.csr': csrPem ?? '' },
      { [CLIENT_LABEL]: options.name },
      { overwrite: false },
    );
    storedIn = `Secret ${target.namespace}/${secretName}`;
    keyLocation = `${storedIn} (tls.key)`;
  }

  const cert = certPem ? new X509Certificate(certPem) : null;
  const sha1 = cert ? cert.fingerprint.toUpperCase() : null;
  return {
    site: target.siteName,
    name: options.name,
    storedIn,
    keyLocation,
    csrPem,
    certPem,
    sha1,
    sha1Hex: sha1 ? sha1.replaceAll(':', '') : null,
    notAfter: cert ? new Date(cert.validTo).toISOString() : null,
  };
}

/** A client certificate must say it is one: without the extension, it is refused too. */
function hasClientAuth(cert: X509Certificate): boolean {
  return allowsPurpose(cert, 'clientAuth', true);
}

export interface ClientInstallResult {
  site: string;
  name: string;
  storedIn: string;
  sha1: string;
  sha1Hex: string;
  sha256: string;
  notAfter: string;
  issuer: string;
}

/**
 * Stores the certificate a CA issued for a client CSR beside its key, after checking it belongs to that key,
 * and gives the SHA-1 thumbprint for the partner system.
 */
export async function installClientCertificate(
  loaded: LoadedConfig,
  siteName: string,
  options: { name: string; certFile: string; outDir?: string | undefined; kubeconfig?: string | undefined },
): Promise<ClientInstallResult> {
  const target = siteTls(loaded, siteName);
  if (!CLIENT_NAME.test(options.name)) throw new UsageError(`"${options.name}" is not a usable client name.`);
  let certPem: string;
  try {
    certPem = await readFile(options.certFile, 'utf8');
  } catch (error) {
    throw new UsageError(
      `Cannot read ${options.certFile} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
    );
  }
  const chain = parsePemCertificates(certPem, options.certFile);
  const leaf = chain[0]!;
  const store = options.outDir
    ? ({ type: 'files', dir: resolve(options.outDir) } as const)
    : target.tls.clients?.store;
  if (!store) {
    throw new UsageError(
      `Where is the key of client "${options.name}"?`,
      'Pass --out-dir DIR (as for `client create`), or set tls.clients.store.',
    );
  }
  const notFound = () =>
    new UsageError(
      `There is no key for client "${options.name}" in ${store.type === 'files' ? store.dir : 'the cluster'}.`,
      'Run `tier4 certs client create` first; the CA signs the CSR it writes.',
    );
  const belongs = (keyPem: string) => {
    if (!leaf.checkPrivateKey(parsePrivateKey(keyPem, `the key of client "${options.name}"`))) {
      throw new UsageError(
        `${options.certFile} was not issued for the key of client "${options.name}"; nothing was changed.`,
        'Check that the CA signed the CSR that `client create` wrote for this name.',
      );
    }
    if (!hasClientAuth(leaf)) {
      throw new UsageError(
        `${options.certFile} is not a client certificate: its extended key usage lacks clientAuth; nothing was changed.`,
        "Ask the CA to sign the CSR as a TLS client certificate (extendedKeyUsage = clientAuth); OpenSSL copies the CSR's extensions with -copy_extensions copy.",
      );
    }
  };
  let storedIn: string;
  if (store.type === 'files') {
    const keyPem = await readFile(join(store.dir, `${options.name}.key`), 'utf8').catch(() => {
      throw notFound();
    });
    belongs(keyPem);
    await writeFile(join(store.dir, `${options.name}.crt`), certPem, { mode: 0o644 });
    storedIn = store.dir;
  } else {
    const kube = await connectKube({
      namespace: target.namespace,
      context: target.context,
      kubeconfig: options.kubeconfig,
    });
    const secretName = `${store.prefix}${options.name}`;
    const secret = await readSecret(kube, secretName);
    const keyPem = secret ? secretText(secret, 'tls.key') : undefined;
    if (!secret || !keyPem) throw notFound();
    belongs(keyPem);
    // A Secret's type cannot change, so the certificate joins the key and CSR in the same Secret.
    const data: Record<string, string> = {};
    for (const key of Object.keys(secret.data ?? {})) data[key] = secretText(secret, key) ?? '';
    data['tls.crt'] = certPem;
    await putSecret(
      kube,
      secretName,
      secret.type ?? 'Opaque',
      data,
      { [CLIENT_LABEL]: options.name },
      { overwrite: true },
    );
    storedIn = `Secret ${target.namespace}/${secretName}`;
  }
  const sha1 = leaf.fingerprint.toUpperCase();
  return {
    site: target.siteName,
    name: options.name,
    storedIn,
    sha1,
    sha1Hex: sha1.replaceAll(':', ''),
    sha256: leaf.fingerprint256.toUpperCase(),
    notAfter: new Date(leaf.validTo).toISOString(),
    issuer: leaf.issuer.split('\n').join(', '),
  };
}
