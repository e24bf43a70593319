import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { certsConfig } from '../support/certs-config.js';
import { createRootCa, issueLeaf, keyPem } from '../support/certs-factory.js';
import { tier4 } from '../support/cli.js';

const openssl = (args: string[], input?: string) =>
  execa('openssl', args, { ...(input === undefined ? {} : { input }), reject: false });

describe('tier4 certs csr', () => {
  test('writes a new key (mode 0600, never printed) and a CSR for the site names that openssl verifies', async () => {
    const { file, dir } = await certsConfig({ host: 'primero.test', altNames: ['www.primero.test'] });
    const result = await tier4([
      '--json',
      'certs',
      'csr',
      '-c',
      file,
      '--out-dir',
      dir,
      '--organization',
      'Ministry, Child Protection',
      '--country',
      'KE',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.names).toEqual(['primero.test', 'www.primero.test']);
    expect(doc.keyFile).toBe(join(dir, 'primero.test.key'));
    expect((await stat(doc.keyFile)).mode & 0o777).toBe(0o600);
    expect(result.stdout + result.stderr).not.toContain('PRIVATE KEY');

    const csr = await readFile(doc.csrFile, 'utf8');
    expect(csr).toBe(doc.csr);
    const text = await openssl(['req', '-in', doc.csrFile, '-noout', '-verify', '-text']);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout + text.stderr).toMatch(/verify OK|Certificate request self-signature verify OK/);
    expect(text.stdout).toMatch(
      /Subject: CN ?= ?primero\.test, O ?= ?"?Ministry, Child Protection"?, C ?= ?KE/,
    );
    expect(text.stdout).toContain('DNS:primero.test, DNS:www.primero.test');
    expect(text.stdout).toContain('Public-Key: (2048 bit)');
    // The CSR's public key is the one in the key file.
    const fromKey = await openssl(['pkey', '-in', doc.keyFile, '-pubout']);
    const fromCsr = await openssl(['req', '-in', doc.csrFile, '-noout', '-pubkey']);
    expect(fromCsr.stdout).toBe(fromKey.stdout);

    // A second run refuses to overwrite the key.
    const again = await tier4(['certs', 'csr', '-c', file, '--out-dir', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists; it was left untouched');
  });

  test('an EC key on request, and a bad country code is refused before a key is made', async () => {
    const { file, dir } = await certsConfig({ host: 'primero.test' });
    const bad = await tier4(['certs', 'csr', '-c', file, '--out-dir', dir, '--country', 'Kenya']);
    expect(bad.code).toBe(2);
    await expect(stat(join(dir, 'primero.test.key'))).rejects.toThrow(/ENOENT/);
    const result = await tier4(['certs', 'csr', '-c', file, '--out-dir', dir, '--key-type', 'ec']);
    expect(result.code, result.stderr).toBe(0);
    const text = await openssl(['req', '-in', join(dir, 'primero.test.csr'), '-noout', '-text']);
    expect(text.stdout).toContain('NIST CURVE: P-256');
  });
});

describe('tier4 certs client create', () => {
  test('a self-signed client certificate: its SHA-1 thumbprint is what openssl computes', async () => {
    const { file, dir } = await certsConfig(
      { host: 'primero.test', clients: { store: { type: 'files', dir: '/nonexistent-unused' } } },
      { owner: 'CP IM team' },
    );
    const out = join(dir, 'clients');
    const result = await tier4([
      'certs',
      'client',
      'create',
      '-c',
      file,
      '--name',
      'progres-dtp',
      '--self-signed',
      '--days',
      '90',
      '--out-dir',
      out,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const certFile = join(out, 'progres-dtp.crt');
    const fingerprint = await openssl(['x509', '-in', certFile, '-noout', '-fingerprint', '-sha1']);
    const expected = fingerprint.stdout.trim().replace(/^sha1 Fingerprint=/i, '');
    expect(expected).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(result.stdout).toContain(`  ${expected}\n`);
    expect(result.stdout).toContain(`  ${expected.replaceAll(':', '')}\n`);
    expect((await stat(join(out, 'progres-dtp.key'))).mode & 0o777).toBe(0o600);
    expect(result.stdout + result.stderr).not.toContain('PRIVATE KEY');

    const text = await openssl(['x509', '-in', certFile, '-noout', '-text']);
    expect(text.stdout).toMatch(/Subject: CN ?= ?progres-dtp, O ?= ?CP IM team/);
    expect(text.stdout).toContain('TLS Web Client Authentication');
    const cert = new X509Certificate(await readFile(certFile));
    const days = (new Date(cert.validTo).getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(90);
    const check = await openssl(['x509', '-in', certFile, '-noout', '-modulus']);
    const keyCheck = await openssl(['rsa', '-in', join(out, 'progres-dtp.key'), '-noout', '-modulus']);
    expect(check.stdout).toBe(keyCheck.stdout);
  });

  test('a CSR for a CA by default, stored in the configured folder; names are checked', async () => {
    const { file, dir } = await certsConfig({
      host: 'primero.test',
      clients: { store: { type: 'files', dir: '/tmp' } },
    });
    await writeFile(file, (await readFile(file, 'utf8')).replace('dir: /tmp', `dir: ${join(dir, 'store')}`));
    const result = await tier4(['--json', 'certs', 'client', 'create', '-c', file, '--name', 'dtp-client']);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.sha1).toBeNull();
    expect(doc.storedIn).toBe(join(dir, 'store'));
    const text = await openssl([
      'req',
      '-in',
      join(dir, 'store', 'dtp-client.csr'),
      '-noout',
      '-verify',
      '-subject',
    ]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/CN ?= ?dtp-client/);
    // A client CSR asks for clientAuth, not serverAuth, and names no host.
    const full = await openssl(['req', '-in', join(dir, 'store', 'dtp-client.csr'), '-noout', '-text']);
    expect(full.stdout).toMatch(/Extended Key Usage:\s*\n\s*TLS Web Client Authentication\s*\n/);
    expect(full.stdout).not.toContain('Server Authentication');
    expect(full.stdout).not.toContain('Subject Alternative Name');

    const bad = await tier4(['certs', 'client', 'create', '-c', file, '--name', 'Bad Name']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not a usable client name');
    const twice = await tier4(['certs', 'client', 'create', '-c', file, '--name', 'dtp-client']);
    expect(twice.code).toBe(2);
  });

  test('client install stores what the CA signed for the CSR and prints the thumbprint openssl computes', async () => {
    const { file, dir } = await certsConfig({ host: 'primero.test' });
    const out = join(dir, 'clients');
    expect(
      (await tier4(['certs', 'client', 'create', '-c', file, '--name', 'dtp', '--out-dir', out])).code,
    ).toBe(0);
    // The partner's CA signs the CSR (here: openssl with a CA made in the test).
    const ca = await createRootCa('Partner Client CA');
    await writeFile(join(dir, 'ca.pem'), ca.pem);
    await writeFile(join(dir, 'ca.key'), await keyPem(ca.keys), { mode: 0o600 });
    const signed = join(dir, 'dtp-signed.pem');
    const sign = await openssl([
      'x509',
      '-req',
      '-in',
      join(out, 'dtp.csr'),
      '-CA',
      join(dir, 'ca.pem'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-CAcreateserial',
      '-copy_extensions',
      'copy',
      '-days',
      '30',
      '-out',
      signed,
    ]);
    expect(sign.exitCode, sign.stderr).toBe(0);

    // The same key signed as a server certificate (serverAuth only) is no client certificate: refused.
    const serverOnly = join(dir, 'dtp-server.pem');
    await writeFile(join(dir, 'server.ext'), 'extendedKeyUsage = serverAuth\n');
    const signServer = await openssl([
      'x509',
      '-req',
      '-in',
      join(out, 'dtp.csr'),
      '-CA',
      join(dir, 'ca.pem'),
      '-CAkey',
      join(dir, 'ca.key'),
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      join(dir, 'server.ext'),
      '-out',
      serverOnly,
    ]);
    expect(signServer.exitCode, signServer.stderr).toBe(0);
    const notClient = await tier4([
      'certs',
      'client',
      'install',
      '-c',
      file,
      '--name',
      'dtp',
      '--cert',
      serverOnly,
      '--out-dir',
      out,
    ]);
    expect(notClient.code).toBe(2);
    expect(notClient.stderr).toContain('lacks clientAuth');
    expect(notClient.stdout).not.toMatch(/[0-9A-F]{2}(:[0-9A-F]{2}){19}/);
    await expect(stat(join(out, 'dtp.crt'))).rejects.toThrow(/ENOENT/);

    // A certificate for some other key is refused and nothing is written.
    const other = join(dir, 'other.pem');
    await writeFile(other, (await issueLeaf(await createRootCa('Other'), { names: ['x.test'] })).leaf);
    const refused = await tier4([
      'certs',
      'client',
      'install',
      '-c',
      file,
      '--name',
      'dtp',
      '--cert',
      other,
      '--out-dir',
      out,
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('was not issued for the key of client "dtp"');
    await expect(stat(join(out, 'dtp.crt'))).rejects.toThrow(/ENOENT/);

    const result = await tier4([
      'certs',
      'client',
      'install',
      '-c',
      file,
      '--name',
      'dtp',
      '--cert',
      signed,
      '--out-dir',
      out,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const fingerprint = await openssl([
      'x509',
      '-in',
      join(out, 'dtp.crt'),
      '-noout',
      '-fingerprint',
      '-sha1',
    ]);
    const expected = fingerprint.stdout.trim().replace(/^sha1 Fingerprint=/i, '');
    expect(result.stdout).toContain(`  ${expected}\n`);
    expect(result.stdout).toContain('issued by CN=Partner Client CA');
  });

  test('without a store or --out-dir it says where to configure one', async () => {
    const { file } = await certsConfig({ host: 'primero.test' });
    const result = await tier4(['certs', 'client', 'create', '-c', file, '--name', 'x1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('tls.clients.store');
  });
});
