import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LoadedConfig } from '../core/config/load.js';
import { UsageError } from '../core/errors.js';
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
import { siteTls } from './site.js';

export interface CsrOptions {
  /** Folder for `<host>.key` (0600) and `<host>.csr`. */
  outDir: string;
  keyType?: KeyKind;
  organization?: string;
  country?: string;
}

export interface CsrResult {
  site: string;
  names: string[];
  keyType: KeyKind;
  keyFile: string;
  csrFile: string;
  /** The request itself (public; safe to print). */
  csrPem: string;
}

/** What a certificate is for: a TLS server (names are DNS/IP SANs) or a TLS client (the name is only the CN). */
export type CertificatePurpose = 'server' | 'client';

/**
 * A CSR in PEM. For a server: CN is the first name, every name is a SAN, extended key usage serverAuth.
 * For a client: CN is the name, no SAN (a client name is no host name), extended key usage clientAuth.
 */
export async function buildCsr(
  names: string[],
  keys: CryptoKeyPair,
  kind: KeyKind,
  subject: { organization?: string | undefined; country?: string | undefined } = {},
  purpose: CertificatePurpose = 'server',
): Promise<string> {
  const lib = await x509();
  const isIp = (name: string) => /^[\d.]+$/.test(name) || name.includes(':');
  const request = await lib.Pkcs10CertificateRequestGenerator.create({
    name: distinguishedName([
      ['CN', names[0]],
      ['O', subject.organization],
      ['C', subject.country],
    ]),
    keys,
    signingAlgorithm: signingAlgorithm(kind),
    extensions: [
      ...(purpose === 'server'
        ? [
            new lib.SubjectAlternativeNameExtension(
              names.map((value) => ({ type: isIp(value) ? 'ip' : 'dns', value })),
            ),
          ]
        : []),
      new lib.KeyUsagesExtension(
        kind === 'rsa' && purpose === 'server'
          ? lib.KeyUsageFlags.digitalSignature | lib.KeyUsageFlags.keyEncipherment
          : lib.KeyUsageFlags.digitalSignature,
        true,
      ),
      new lib.ExtendedKeyUsageExtension([
        purpose === 'server' ? lib.ExtendedKeyUsage.serverAuth : lib.ExtendedKeyUsage.clientAuth,
      ]),
    ],
  });
  return request.toString('pem');
}

/**
 * A new private key, generated here and written mode 0600 (never printed), and a CSR for the site's names
 * (tls.host or the host of primero.url, then tls.altNames) to send to the CA.
 */
export async function createSiteCsr(
  loaded: LoadedConfig,
  siteName: string,
  options: CsrOptions,
): Promise<CsrResult> {
  const target = siteTls(loaded, siteName);
  const kind = options.keyType ?? 'rsa';
  if (options.country !== undefined && !/^[A-Z]{2}$/.test(options.country)) {
    throw new UsageError(`--country must be a two-letter ISO code such as KE, not "${options.country}".`);
  }
  const outDir = resolve(options.outDir);
  await ensureKeyFolder(outDir);
  const base = target.host.replace(/[^A-Za-z0-9.-]/g, '_');
  const keyFile = join(outDir, `${base}.key`);
  const csrFile = join(outDir, `${base}.csr`);
  const keys = await generateKeys(kind);
  const csrPem = await buildCsr(target.names, keys, kind, options);
  // The key first: if it cannot be created (exists), no CSR is left behind without its key.
  await writePrivateKeyFile(keyFile, await privateKeyPem(keys));
  await writeFile(csrFile, csrPem, { mode: 0o644 });
  return { site: target.siteName, names: target.names, keyType: kind, keyFile, csrFile, csrPem };
}

/** Where `certs csr` keeps private keys by default: a private folder in the home, never next to tier4.yaml. */
export function defaultKeyFolder(env: NodeJS.ProcessEnv, home: string): string {
  return join(env.HOME ?? home, '.tier4', 'keys');
}

/** Creates the key folder (mode 0700) when missing; a folder that cannot be made is explained, not ENOENT. */
async function ensureKeyFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(
      `Cannot create the key folder ${dir} (${code}).`,
      'Pass --out-dir with a folder you can write to (it is created, private, when missing).',
    );
  }
}
