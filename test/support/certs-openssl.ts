import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { TestPair } from './certs-factory.js';

/** A self-signed P-256 certificate for `host` made by the openssl CLI, with the extensions given (`-addext`). */
export async function opensslSelfSigned(host: string, extensions: string[], days = 30): Promise<TestPair> {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-openssl-'));
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    `/CN=${host}`,
    '-days',
    String(days),
    ...extensions.flatMap((extension) => ['-addext', extension]),
  ]);
  const pem = await readFile(cert, 'utf8');
  return { cert: pem, key: await readFile(key, 'utf8'), leaf: pem };
}
