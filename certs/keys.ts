import { createPrivateKey, webcrypto } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

import { open } from 'node:fs/promises';
import { UsageError } from '../core/errors.js';

/**
 * Key generation and certificate/CSR building with @peculiar/x509 on Node's WebCrypto. Loaded on first use.
 */

export type KeyKind = 'rsa' | 'ec';
export type { CryptoKeyPair };

export async function x509() {
  await import('reflect-metadata');
  const lib = await import('@peculiar/x509');
  lib.cryptoProvider.set(webcrypto as never);
  return lib;
}

export function keyAlgorithm(kind: KeyKind) {
  return kind === 'rsa'
    ? {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      }
    : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
}

export function signingAlgorithm(kind: KeyKind) {
  return kind === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', hash: 'SHA-256' };
}

export async function generateKeys(kind: KeyKind): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(keyAlgorithm(kind), true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 PEM (Node does the encoding). */
export async function privateKeyPem(keys: CryptoKeyPair): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;
}

/** Creates a private key file, readable by its owner only. Never overwrites. */
export async function writePrivateKeyFile(path: string, pem: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'EEXIST'
        ? `${path} already exists; it was left untouched.`
        : `Cannot create ${path} (${code ?? 'error'}).`,
      code === 'EEXIST' ? 'Pick another folder (--out-dir), or move the old key away first.' : undefined,
    );
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(pem);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Distinguished name as a list of attributes, so no value needs escaping. */
export function distinguishedName(
  attributes: Array<[string, string | undefined]>,
): Array<Record<string, string[]>> {
  return attributes
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([key, value]) => ({ [key]: [value!] }));
}
