import { X509Certificate } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { certsConfig } from '../support/certs-config.js';
import {
  createIntermediate,
  createRootCa,
  type Issuer,
  issueLeaf,
  type TestPair,
} from '../support/certs-factory.js';
import { type RunningNginx, SNI_HOST, settledFingerprint, startNginx } from '../support/certs-nginx.js';
import { tier4 } from '../support/cli.js';

/** Rotation against a real nginx (Debian's nginx-light) on 127.0.0.1, serving certificates from files. */

let root: Issuer;
let issuing: Issuer;
let current: TestPair;
let next: TestPair;
const running: RunningNginx[] = [];

beforeAll(async () => {
  root = await createRootCa('Tier4 Test Root');
  issuing = await createIntermediate(root, 'Tier4 Test Issuing CA');
  current = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 60 });
  next = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 365 });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

const sha256 = (pair: TestPair) => new X509Certificate(pair.leaf).fingerprint256;

async function site(pair: TestPair, tls: Record<string, unknown> = {}) {
  const nginx = await startNginx(pair);
  running.push(nginx);
  const tlsFor = (changes: Record<string, unknown>) => ({
    host: SNI_HOST,
    port: nginx.port,
    connectAddress: '127.0.0.1',
    verifyTimeout: '20s',
    ...changes,
    source: {
      type: 'files',
      cert: nginx.certFile,
      key: nginx.keyFile,
      reloadCommand: (changes.reloadCommand as string | undefined) ?? nginx.reloadCommand,
      testCommand: changes.testCommand,
    },
    reloadCommand: undefined,
    testCommand: undefined,
  });
  const config = await certsConfig(tlsFor(tls));
  const caFile = join(config.dir, 'ca.pem');
  await writeFile(caFile, root.pem);
  /** Rewrites tier4.yaml with other tls settings (the CA file stays). */
  const rewrite = async (changes: Record<string, unknown>) => {
    const { stringify, parse } = await import('yaml');
    const doc = parse(await readFile(config.file, 'utf8'));
    doc.sites.web.tls = JSON.parse(JSON.stringify({ ...tlsFor(changes), caFile }));
    await writeFile(config.file, stringify(doc));
  };
  await rewrite(tls);
  return { nginx, config, rewrite };
}

async function writePair(dir: string, name: string, pair: { cert: string; key: string }) {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await writeFile(cert, pair.cert);
  await writeFile(key, pair.key, { mode: 0o600 });
  return { cert, key };
}

/** HTTPS requests on fresh connections, one after another, verifying the chain against the test CA. */
function clientLoop(port: number, maxRequests = 5000) {
  let stopped = false;
  const seen: string[] = [];
  const failures: string[] = [];
  const once = () =>
    new Promise<void>((resolvePromise) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          servername: SNI_HOST,
          path: '/',
          agent: false,
          ca: root.pem,
          timeout: 5000,
        },
        (res) => {
          const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate()
            .fingerprint256;
          let body = '';
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => {
            if (res.statusCode === 200 && body === 'ok\n') seen.push(fingerprint);
            else failures.push(`HTTP ${res.statusCode} ${body}`);
            resolvePromise();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (error) => {
        failures.push(error.message);
        resolvePromise();
      });
      req.end();
    });
  const done = (async () => {
    for (let count = 0; !stopped && count < maxRequests; count++) await once();
  })();
  return {
    seen,
    failures,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

const untouched = async (paths: string[]) =>
  Promise.all(
    paths.map(async (path) => ({ text: await readFile(path, 'utf8'), mtime: (await stat(path)).mtimeMs })),
  );

describe('tier4 certs rotate (files, real nginx)', () => {
  test('rotates to the new pair while clients connecting throughout see no failed request', async () => {
    const { nginx, config } = await site(current);
    expect(await settledFingerprint(nginx.port, sha256(current))).toBe(sha256(current));
    const files = await writePair(config.dir, 'new', next);

    const loop = clientLoop(nginx.port);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 300));
    const result = await tier4([
      '--json',
      'certs',
      'rotate',
      '-c',
      config.file,
      '--site',
      'web',
      '--cert',
      files.cert,
      '--key',
      files.key,
    ]);
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 300));
    await loop.stop();

    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.servedSha256).toBe(sha256(next));
    expect(await settledFingerprint(nginx.port, sha256(next))).toBe(sha256(next));
    expect(loop.failures).toEqual([]);
    expect(loop.seen.length).toBeGreaterThan(10);
    expect(loop.seen).toContain(sha256(current));
    expect(loop.seen.at(-1)).toBe(sha256(next));
    // The files hold the new pair, and the old pair is kept (key readable by its owner only).
    expect(await readFile(nginx.certFile, 'utf8')).toBe(next.cert);
    expect((await stat(nginx.keyFile)).mode & 0o777).toBe(0o600);
    const backups = join(nginx.dir, 'ssl', '.tier4-previous');
    const [folder] = await readdir(backups);
    expect(await readFile(join(backups, folder!, 'cert.pem'), 'utf8')).toBe(current.cert);
    expect((await stat(join(backups, folder!, 'key.pem'))).mode & 0o777).toBe(0o600);
    expect(result.stdout + result.stderr).not.toContain('PRIVATE KEY');
  });

  test('bad pairs are refused before anything changes', async () => {
    const { nginx, config } = await site(current);
    const before = await untouched([nginx.certFile, nginx.keyFile]);
    const bad: Array<[string, { cert: string; key: string }, RegExp]> = [
      ['wrong key', { cert: next.cert, key: current.key }, /the key does not belong to the certificate/],
      [
        'expired',
        await issueLeaf(issuing, { names: [SNI_HOST], notBeforeDays: -90, notAfterDays: -1 }),
        /expired on/,
      ],
      ['missing SAN', await issueLeaf(issuing, { names: ['other.test'] }), /do not cover primero\.test/],
      [
        'incomplete chain',
        await issueLeaf(issuing, { names: [SNI_HOST], omitChain: true }),
        /issuer of "CN=primero.test"/,
      ],
      ['weak key', await issueLeaf(issuing, { names: [SNI_HOST], key: { rsa: 1024 } }), /at least RSA 2048/],
      [
        'client certificate',
        await issueLeaf(issuing, { names: [SNI_HOST], purpose: 'clientAuth' }),
        /lacks serverAuth: it is not a server certificate/,
      ],
    ];
    for (const [label, pair, reason] of bad) {
      const files = await writePair(config.dir, label.replace(' ', '-'), pair);
      const result = await tier4([
        'certs',
        'rotate',
        '-c',
        config.file,
        '--site',
        'web',
        '--cert',
        files.cert,
        '--key',
        files.key,
      ]);
      expect(result.code, label).toBe(2);
      expect(result.stderr, label).toMatch(reason);
      expect(result.stderr).toContain('nothing was changed');
    }
    expect(await untouched([nginx.certFile, nginx.keyFile])).toEqual(before);
    await expect(stat(join(nginx.dir, 'ssl', '.tier4-previous'))).rejects.toThrow(/ENOENT/);
    expect(await settledFingerprint(nginx.port, sha256(current))).toBe(sha256(current));
  });

  test('--dry-run validates the pair, runs the configuration test, and changes nothing: the old certificate is still served', async () => {
    const { nginx, config, rewrite } = await site(current);
    // nginx's own configuration test, on the same configuration the reload uses.
    await rewrite({ testCommand: nginx.reloadCommand.replace(/ -s reload$/, ' -t') });
    const before = await untouched([nginx.certFile, nginx.keyFile]);
    const files = await writePair(config.dir, 'new', next);
    const rotate = [
      'certs',
      'rotate',
      '-c',
      config.file,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '--dry-run',
    ];

    const result = await tier4(['--json', ...rotate]);
    expect(result.code, result.stderr).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(plan).toMatchObject({
      ok: true,
      dryRun: true,
      site: 'web',
      installTo: `${nginx.certFile} and ${nginx.keyFile}`,
      saveTo: join(nginx.dir, 'ssl', '.tier4-previous'),
      current: { sha256: sha256(current) },
      new: { sha256: sha256(next), sans: [SNI_HOST] },
      reload: nginx.reloadCommand,
    });
    expect(plan.configTest).toMatch(/nginx .* -t$/);
    const text = await tier4(rotate);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('passed every check; nothing was changed');
    expect(text.stdout).toContain(`install the new one into ${nginx.certFile}`);

    // Nothing written, nothing reloaded: the files as they were, no saved pair, no SIGHUP, the old certificate.
    expect(await untouched([nginx.certFile, nginx.keyFile])).toEqual(before);
    await expect(stat(join(nginx.dir, 'ssl', '.tier4-previous'))).rejects.toThrow(/ENOENT/);
    expect(await nginx.errorLog()).not.toContain('SIGHUP');
    expect(await settledFingerprint(nginx.port, sha256(current))).toBe(sha256(current));

    // A configuration test that fails stops the dry run (exit 1), as it would stop the rotation before a reload.
    await rewrite({ testCommand: '/bin/sh -c "echo emerg: bad directive >&2; exit 1"' });
    const failing = await tier4(rotate);
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain('The configuration test command');
    expect(failing.stderr).toContain('bad directive');
    expect(await untouched([nginx.certFile, nginx.keyFile])).toEqual(before);
    expect(await settledFingerprint(nginx.port, sha256(current))).toBe(sha256(current));
  });

  test('a configuration test that fails with the new pair in place rolls back before any reload', async () => {
    const { nginx, config, rewrite } = await site(current);
    // A test that passes on the old pair and fails once the new one is in place (as `nginx -t` would on a
    // pair nginx cannot load): the dry run passes, the rotation rolls back without reloading.
    const marker = next.leaf.split('\n')[2]!;
    await rewrite({ testCommand: `/bin/sh -c '! grep -qF "${marker}" ${nginx.certFile}'` });
    const files = await writePair(config.dir, 'new', next);
    const rotate = ['certs', 'rotate', '-c', config.file, '--cert', files.cert, '--key', files.key];
    expect((await tier4([...rotate, '--dry-run'])).code).toBe(0);
    const result = await tier4(rotate);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('The configuration test command');
    expect(result.stderr).toContain('the previous certificate was restored and is served again');
    expect(await readFile(nginx.certFile, 'utf8')).toBe(current.cert);
    expect(await settledFingerprint(nginx.port, sha256(current))).toBe(sha256(current));
  });

  test('a reload command that fails rolls back to the saved pair', async () => {
    const { nginx, config } = await site(current, {
      reloadCommand: '/bin/sh -c "echo reload refused >&2; exit 3"',
    });
    const files = await writePair(config.dir, 'new', next);
    const result = await tier4([
      'certs',
      'rotate',
      '-c',
      config.file,
      '--site',
      'web',
      '--cert',
      files.cert,
      '--key',
      files.key,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/failed \(exit 3\): reload refused/);
    expect(result.stderr).toMatch(
      /the previous pair was restored; the reload failed again \(.*\), but the server still serves the previous certificate/,
    );
    expect(await readFile(nginx.certFile, 'utf8')).toBe(current.cert);
    expect(await readFile(nginx.keyFile, 'utf8')).toBe(current.key);
    expect(await settledFingerprint(nginx.port, sha256(current))).toBe(sha256(current));
  });

  test('a reload that does not make nginx serve the new certificate rolls back', async () => {
    const { nginx, config } = await site(current, { verifyTimeout: '2s', reloadCommand: '/bin/true' });
    const files = await writePair(config.dir, 'new', next);
    const result = await tier4([
      '--json',
      'certs',
      'rotate',
      '-c',
      config.file,
      '--site',
      'web',
      '--cert',
      files.cert,
      '--key',
      files.key,
    ]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).error.message).toMatch(
      new RegExp(`still serves ${sha256(current)} after 2 s, not the new certificate ${sha256(next)}`),
    );
    expect(JSON.parse(result.stdout).error.message).toMatch(
      /the previous certificate was restored and is served again/,
    );
    expect(await readFile(nginx.certFile, 'utf8')).toBe(current.cert);
    expect(await settledFingerprint(nginx.port, sha256(current))).toBe(sha256(current));
  });

  test('a reload after which nginx serves some other certificate rolls back, and the old one is served again', async () => {
    // The first reload puts a third certificate in place first, as a misconfigured server block pointing at
    // other files would; the rollback's reload is a plain one.
    const stray = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 200 });
    const { nginx, config, rewrite } = await site(current, { verifyTimeout: '5s' });
    const strayFiles = await writePair(config.dir, 'stray', stray);
    const sneaky = `/bin/sh -c 'if [ ! -e ${config.dir}/once ]; then touch ${config.dir}/once; cp ${strayFiles.cert} ${nginx.certFile}; cp ${strayFiles.key} ${nginx.keyFile}; fi; ${nginx.reloadCommand}'`;
    await rewrite({ verifyTimeout: '5s', reloadCommand: sneaky });
    const files = await writePair(config.dir, 'new', next);
    const result = await tier4([
      'certs',
      'rotate',
      '-c',
      config.file,
      '--site',
      'web',
      '--cert',
      files.cert,
      '--key',
      files.key,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`still serves ${sha256(stray)}`);
    expect(result.stderr).toMatch(/the previous certificate was restored and is served again/);
    expect(await settledFingerprint(nginx.port, sha256(current))).toBe(sha256(current));
  });
});

describe('tier4 certs status (files, real nginx)', () => {
  test('prints thumbprints and days left for the served and the stored certificate', async () => {
    const { nginx, config } = await site(current);
    const leaf = new X509Certificate(current.leaf);
    const human = await tier4(['certs', 'status', '-c', config.file, '--site', 'web']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`OK  ${SNI_HOST}, served (${SNI_HOST}:${nginx.port} via 127.0.0.1)`);
    expect(human.stdout).toContain(`OK  ${SNI_HOST}, stored (${nginx.certFile})`);
    expect(human.stdout.split(`SHA-1      ${leaf.fingerprint}`).length).toBe(3);
    expect(human.stdout.split(`SHA-256    ${leaf.fingerprint256}`).length).toBe(3);
    expect(human.stdout).toMatch(/\((59|60) days left\)/);
    expect(human.stdout).toContain('complete, trusted (2 presented, anchored by CN=Tier4 Test Root)');

    const json = await tier4(['--json', 'certs', 'status', '-c', config.file]);
    const [report] = JSON.parse(json.stdout).sites;
    expect(report.entries.map((e: { where: string }) => e.where)).toEqual(['served', 'stored']);
    for (const item of report.entries) {
      expect(item.info).toMatchObject({
        sha1: leaf.fingerprint,
        sha256: leaf.fingerprint256,
        keyType: 'EC prime256v1',
        keySize: 256,
      });
      expect(item.info.daysLeft).toBeGreaterThanOrEqual(59);
    }
  });

  test('a stored certificate that was never reloaded fails', async () => {
    const { nginx, config } = await site(current);
    await writeFile(nginx.certFile, next.cert);
    await writeFile(nginx.keyFile, next.key);
    const result = await tier4(['certs', 'status', '-c', config.file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL {2}primero\.test, served/);
    expect(result.stdout).toContain('the served certificate is not the stored one');
  });

  test('warns under warnDays and fails under failDays, both configurable', async () => {
    const soon = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 20 });
    const { config, rewrite } = await site(soon);
    const warned = await tier4(['certs', 'status', '-c', config.file]);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toMatch(/WARN {2}primero\.test, served/);
    expect(warned.stdout).toMatch(/warn: expires in 19 days \(warn under 30\)/);

    for (const [tls, code, pattern] of [
      [{ warnDays: 15, failDays: 10 }, 0, /^OK {2}primero\.test, served/m],
      [{ warnDays: 40, failDays: 25 }, 1, /fail: expires in 19 days \(fail under 25\)/],
      // The boundaries: 19 whole days left is under 20 but not under 19, for either threshold.
      [{ warnDays: 30, failDays: 19 }, 0, /warn: expires in 19 days \(warn under 30\)/],
      [{ warnDays: 30, failDays: 20 }, 1, /fail: expires in 19 days \(fail under 20\)/],
      [{ warnDays: 19, failDays: 10 }, 0, /^OK {2}primero\.test, served/m],
      [{ warnDays: 20, failDays: 10 }, 0, /warn: expires in 19 days \(warn under 20\)/],
    ] as const) {
      await rewrite(tls);
      const result = await tier4(['certs', 'status', '-c', config.file]);
      expect(result.code, result.stdout).toBe(code);
      expect(result.stdout).toMatch(pattern);
    }
  });

  test('an unreachable server fails with the reason', async () => {
    const { nginx, config } = await site(current);
    await nginx.stop();
    running.splice(running.indexOf(nginx), 1);
    const result = await tier4(['certs', 'status', '-c', config.file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /Cannot complete a TLS handshake with primero\.test:\d+ \(via 127\.0\.0\.1\): connect ECONNREFUSED/,
    );
  });
});
