import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { planManagedRenewal, renewManagedCertificate, rotateCertificate } from '../../certs/rotate.js';
import { OperationError, UsageError } from '../../core/errors.js';
import { freePort } from '../../rehearsal/postgres-server.js';
import { certsConfig } from '../support/certs-config.js';
import {
  createIntermediate,
  createRootCa,
  type Issuer,
  issueLeaf,
  type TestPair,
} from '../support/certs-factory.js';
import { deployment, type FakeKubeApi, startFakeKubeApi, tlsSecret } from '../support/certs-kube-api.js';
import { type RunningNginx, SNI_HOST, settledFingerprint, startNginx } from '../support/certs-nginx.js';
import { testSecret } from '../support/secrets.js';

// certs rotate (certs/rotate.ts), in-process: a real nginx serving from files, the fake Kubernetes API for
// Secrets and cert-manager. The plan, each step, each refusal and each rollback sentence, exactly.

const NS = 'primero';
let root: Issuer;
let current: TestPair;
let next: TestPair;
let caFile: string;
let api: FakeKubeApi;
const running: RunningNginx[] = [];

beforeAll(async () => {
  root = await createRootCa('Tier4 Rotate Root');
  const issuing = await createIntermediate(root, 'Tier4 Rotate Issuing CA');
  current = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 30 });
  next = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 365 });
  caFile = join(await mkdtemp(join(tmpdir(), 'tier4-rotate-ca-')), 'ca.pem');
  await writeFile(caFile, root.pem);
  api = await startFakeKubeApi({ token: testSecret('kube-token'), namespace: NS });
});
afterAll(async () => api?.stop());
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
  api.secrets.clear();
  api.deployments.clear();
  api.certificates.clear();
  api.onRollout = async () => {};
  api.onIssue = async () => {};
});

const sha = (pair: TestPair) => new X509Certificate(pair.leaf).fingerprint256.toUpperCase();
const notAfter = (pair: TestPair) => new Date(new X509Certificate(pair.leaf).validTo).toISOString();

/** As new pods mounting the Secret would: its pair goes into nginx's files, and nginx reloads. */
async function serveSecret(nginx: RunningNginx): Promise<void> {
  const data = api.secrets.get(`${NS}/primero-tls`)!.data;
  await writeFile(nginx.certFile, Buffer.from(data['tls.crt'], 'base64'));
  await writeFile(nginx.keyFile, Buffer.from(data['tls.key'], 'base64'));
  const [file, ...args] = nginx.reloadCommand.split(' ');
  await execa(file!, args);
}

async function newFiles(pair: { cert: string; key: string }) {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-rotate-new-'));
  const files = { cert: join(dir, 'new.crt'), key: join(dir, 'new.key') };
  await writeFile(files.cert, pair.cert);
  await writeFile(files.key, pair.key, { mode: 0o600 });
  return files;
}

/** nginx serving `current` from files, and a site whose tls.source is those files. */
async function filesSite(
  sourceOf: Record<string, unknown> | ((nginx: RunningNginx) => Record<string, unknown>) = {},
  tls: Record<string, unknown> = {},
) {
  const nginx = await startNginx(current);
  running.push(nginx);
  const source = typeof sourceOf === 'function' ? sourceOf(nginx) : sourceOf;
  const config = await certsConfig({
    host: SNI_HOST,
    port: nginx.port,
    connectAddress: '127.0.0.1',
    caFile,
    verifyTimeout: '10s',
    ...tls,
    source: {
      type: 'files',
      cert: nginx.certFile,
      key: nginx.keyFile,
      reloadCommand: nginx.reloadCommand,
      ...source,
    },
  });
  return { nginx, config };
}

async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!error) throw new Error('expected a refusal');
  return error as UsageError | OperationError;
}

const rotateOptions = (steps: string[], extra: Record<string, unknown> = {}) => ({
  onProgress: (text: string) => steps.push(text),
  pollMs: 50,
  ...extra,
});

describe('refused before anything changes', () => {
  test('no tls.source, or a cert-manager one', async () => {
    const bare = await certsConfig({ host: SNI_HOST, caFile });
    const files = await newFiles(next);
    const none = await refusal(rotateCertificate(bare.loaded, 'web', files));
    expect(none).toBeInstanceOf(UsageError);
    expect([none.message, none.hint]).toEqual([
      'sites.web.tls.source is not set, so tier4 does not know where the certificate is kept.',
      'Set tls.source to {type: files, cert, key, reloadCommand} or {type: kubernetes-secret, secret}.',
    ]);
    const managed = await certsConfig(
      { host: SNI_HOST, caFile, source: { type: 'cert-manager', secret: 'primero-tls' } },
      { kubernetes: { namespace: NS, context: 'fake-context' } },
    );
    const issued = await refusal(rotateCertificate(managed.loaded, 'web', files));
    expect([issued.constructor, issued.message, issued.hint]).toEqual([
      UsageError,
      'The certificate of web is issued by cert-manager; a certificate file would be overwritten at its next renewal.',
      'Run `tier4 certs rotate --site NAME` without --cert and --key to have cert-manager issue a new one.',
    ]);
  });

  test('new files that cannot be read, and a pair that fails its checks', async () => {
    const { nginx, config } = await filesSite();
    const files = await newFiles(next);
    const noCert = await refusal(
      rotateCertificate(config.loaded, 'web', { ...files, cert: `${files.cert}.x` }),
    );
    expect([noCert.constructor, noCert.message]).toEqual([
      UsageError,
      `Cannot read the certificate file ${files.cert}.x (ENOENT).`,
    ]);
    const noKey = await refusal(rotateCertificate(config.loaded, 'web', { ...files, key: `${files.key}.x` }));
    expect(noKey.message).toBe(`Cannot read the key file ${files.key}.x (ENOENT).`);
    const mismatched = await newFiles({ cert: next.cert, key: current.key });
    const refused = await refusal(rotateCertificate(config.loaded, 'web', mismatched));
    expect([refused.constructor, refused.message, refused.hint]).toEqual([
      UsageError,
      `The new certificate for ${SNI_HOST} is refused; nothing was changed:\n  - the key does not belong to the certificate`,
      'Fix the certificate or key and run again. The certificate file holds the full chain, leaf first; a private or national CA goes in tls.caFile.',
    ]);
    const short = await newFiles(current);
    const tooShort = await refusal(
      rotateCertificate(config.loaded, 'web', short, { now: new Date(Date.now() + 20 * 86_400_000) }),
    );
    expect(tooShort.message).toMatch(/not more than failDays \(14\)$/);
    expect(await readFile(nginx.certFile, 'utf8')).toBe(current.cert);
  });

  test('no current pair to replace, and the pair already installed', async () => {
    const { nginx, config } = await filesSite();
    const missing = await certsConfig({
      host: SNI_HOST,
      port: nginx.port,
      connectAddress: '127.0.0.1',
      caFile,
      source: { type: 'files', cert: `${nginx.certFile}.x`, key: nginx.keyFile, reloadCommand: 'true' },
    });
    const none = await refusal(rotateCertificate(missing.loaded, 'web', await newFiles(next)));
    expect([none.constructor, none.message, none.hint]).toEqual([
      UsageError,
      `There is no current certificate at ${nginx.certFile}.x and ${nginx.keyFile} to replace.`,
      'Check tls.source; for a first install put the files (or the Secret) in place yourself.',
    ]);
    const same = await refusal(rotateCertificate(config.loaded, 'web', await newFiles(current)));
    expect([same.constructor, same.message]).toEqual([
      UsageError,
      `${nginx.certFile} and ${nginx.keyFile} already holds this certificate; nothing was changed.`,
    ]);
  });
});

describe('files', () => {
  test('--dry-run: the plan, with the configuration test run, and nothing written', async () => {
    const { nginx, config } = await filesSite({ testCommand: 'true' });
    const steps: string[] = [];
    const plan = await rotateCertificate(config.loaded, 'web', await newFiles(next), {
      ...rotateOptions(steps),
      dryRun: true as const,
    });
    expect(plan).toMatchObject({
      site: 'web',
      dryRun: true,
      installTo: `${nginx.certFile} and ${nginx.keyFile}`,
      saveTo: join(nginx.dir, 'ssl', '.tier4-previous'),
      current: { sha256: sha(current), notAfter: notAfter(current) },
      configTest: 'true',
      reload: nginx.reloadCommand,
      verifyAt: `${SNI_HOST}:${nginx.port}`,
    });
    expect(plan.new.sha256).toBe(sha(next));
    expect(steps).toEqual([
      `Checking the server side of ${nginx.certFile} and ${nginx.keyFile} (a dry run: nothing is written)`,
    ]);
    expect(await readFile(nginx.certFile, 'utf8')).toBe(current.cert);
    expect(await settledFingerprint(nginx.port, sha(current))).toBe(sha(current));
  });

  test('--dry-run: no test command, a backupDir of its own, and folders that cannot take the pair', async () => {
    const backupDir = join(await mkdtemp(join(tmpdir(), 'tier4-rotate-keep-')), 'kept');
    const { config } = await filesSite({ backupDir });
    const plan = await rotateCertificate(config.loaded, 'web', await newFiles(next), { dryRun: true });
    expect([plan.saveTo, plan.configTest]).toEqual([backupDir, null]);
    const blocker = join(await mkdtemp(join(tmpdir(), 'tier4-rotate-file-')), 'file');
    await writeFile(blocker, 'not a folder');
    const { config: blocked } = await filesSite({ backupDir: join(blocker, 'kept') });
    const refused = await refusal(
      rotateCertificate(blocked.loaded, 'web', await newFiles(next), { dryRun: true }),
    );
    expect([refused.constructor, refused.message]).toEqual([
      UsageError,
      `The certificate cannot be installed: ${blocker} is not a folder; nothing was changed.`,
    ]);
    const { config: failing } = await filesSite({ testCommand: 'echo bad config; exit 3' });
    const testFails = await refusal(
      rotateCertificate(failing.loaded, 'web', await newFiles(next), { dryRun: true }),
    );
    expect(testFails.message).toBe(
      'The configuration test command `echo bad config; exit 3` failed (exit 3): bad config.',
    );
  });

  test('rotates: keeps the current pair, installs the new one, reloads, and proves it is served', async () => {
    const { nginx, config } = await filesSite({ testCommand: 'true' });
    const steps: string[] = [];
    const now = new Date();
    const result = await rotateCertificate(
      config.loaded,
      'web',
      await newFiles(next),
      rotateOptions(steps, { now }),
    );
    const savedAt = join(nginx.dir, 'ssl', '.tier4-previous', now.toISOString().replaceAll(':', '-'));
    expect(result).toMatchObject({
      site: 'web',
      installedTo: `${nginx.certFile} and ${nginx.keyFile}`,
      previousSavedAt: savedAt,
      previous: { sha256: sha(current), notAfter: notAfter(current) },
      servedSha256: sha(next),
    });
    expect(result.installed.sha256).toBe(sha(next));
    expect(steps).toEqual([
      `Saving the current certificate from ${nginx.certFile} and ${nginx.keyFile}`,
      `Installing the new certificate into ${nginx.certFile} and ${nginx.keyFile}`,
      'Reloading the server',
      `Checking that ${SNI_HOST}:${nginx.port} serves the new certificate`,
    ]);
    expect(await readFile(nginx.certFile, 'utf8')).toBe(next.cert);
    expect(await readFile(join(savedAt, 'cert.pem'), 'utf8')).toBe(current.cert);
    expect(await readFile(join(savedAt, 'key.pem'), 'utf8')).toBe(current.key);
    // (Not asked again here: right after a reload an old nginx worker may still answer with the old one.)
  });

  test('a configuration test that fails with the new pair in place: rolled back, the old one still served', async () => {
    // The test command passes only on the current pair: with the new pair in place it fails.
    const marker = current.cert.split('\n')[1]!;
    const { nginx, config: guarded } = await filesSite((server) => ({
      testCommand: `grep -q '${marker}' ${server.certFile}`,
    }));
    const steps: string[] = [];
    const failure = await refusal(
      rotateCertificate(guarded.loaded, 'web', await newFiles(next), rotateOptions(steps)),
    );
    expect(failure).toBeInstanceOf(OperationError);
    expect(failure.message).toMatch(
      /^Rotation of primero\.test failed: The configuration test command `grep -q .+` failed \(exit 1\)\. Then the previous certificate was restored and is served again\.$/,
    );
    expect(failure.hint).toMatch(
      /^The previous pair is kept at .+\.tier4-previous\/.+\. Fix the cause \(reload command, rollout, server configuration\) and run again\.$/,
    );
    expect(steps).toEqual([
      `Saving the current certificate from ${nginx.certFile} and ${nginx.keyFile}`,
      `Installing the new certificate into ${nginx.certFile} and ${nginx.keyFile}`,
      'Rolling back to the saved certificate',
    ]);
    expect(await readFile(nginx.certFile, 'utf8')).toBe(current.cert);
    expect(await readFile(nginx.keyFile, 'utf8')).toBe(current.key);
  });

  test('a reload that fails, and fails again on rollback: the old certificate is still served', async () => {
    const { nginx, config } = await filesSite({ reloadCommand: 'exit 7' });
    const failure = await refusal(
      rotateCertificate(config.loaded, 'web', await newFiles(next), { pollMs: 50 }),
    );
    expect(failure.message).toBe(
      'Rotation of primero.test failed: The reload command `exit 7` failed (exit 7). Then the previous pair was restored; the reload failed again (The reload command `exit 7` failed (exit 7).), but the server still serves the previous certificate.',
    );
    expect(await readFile(nginx.certFile, 'utf8')).toBe(current.cert);
  });

  test('a reload after which the server still serves the old certificate: rolled back, and it is served again', async () => {
    const { nginx, config } = await filesSite({ reloadCommand: 'true' }, { verifyTimeout: '1s' });
    const failure = await refusal(
      rotateCertificate(config.loaded, 'web', await newFiles(next), { pollMs: 50 }),
    );
    expect(failure.message).toBe(
      `Rotation of primero.test failed: ${SNI_HOST}:${nginx.port} still serves ${sha(current)} after 1 s, not the new certificate ${sha(next)}. Then the previous certificate was restored and is served again.`,
    );
    expect(await readFile(nginx.certFile, 'utf8')).toBe(current.cert);
  });

  test('a server that cannot be reached after the reload, nor after the rollback', async () => {
    const nginx = await startNginx(current);
    running.push(nginx);
    const port = await freePort();
    const config = await certsConfig({
      host: SNI_HOST,
      port,
      connectAddress: '127.0.0.1',
      caFile,
      verifyTimeout: '1s',
      source: { type: 'files', cert: nginx.certFile, key: nginx.keyFile, reloadCommand: 'true' },
    });
    const failure = await refusal(
      rotateCertificate(config.loaded, 'web', await newFiles(next), { pollMs: 50 }),
    );
    const unreachable = `Cannot complete a TLS handshake with ${SNI_HOST}:${port} (via 127.0.0.1): connect ECONNREFUSED 127.0.0.1:${port}`;
    expect(failure.message).toBe(
      `Rotation of primero.test failed: ${SNI_HOST}:${port} could not be reached after the reload: ${unreachable} Then the previous pair was restored, but the server does not serve it (${unreachable}): check the server now.`,
    );
  });

  test('a reload that serves something else and then fails on rollback: the server is named as it is', async () => {
    // The first reload swaps in a third certificate (as another process might); the reload on rollback fails.
    const third = await issueLeaf(root, { names: [SNI_HOST], notAfterDays: 100 });
    const { nginx, config } = await filesSite(
      (server) => {
        const marker = join(server.dir, 'reloaded');
        const [cert, key] = [join(server.dir, 'third.crt'), join(server.dir, 'third.key')];
        return {
          reloadCommand: `if [ -e ${marker} ]; then exit 5; fi; touch ${marker}; cp ${cert} ${server.certFile}; cp ${key} ${server.keyFile}; ${server.reloadCommand}`,
        };
      },
      { verifyTimeout: '1s' },
    );
    await writeFile(join(nginx.dir, 'third.crt'), third.cert);
    await writeFile(join(nginx.dir, 'third.key'), third.key);
    const failure = await refusal(
      rotateCertificate(config.loaded, 'web', await newFiles(next), { pollMs: 50 }),
    );
    expect(failure.message).toMatch(
      new RegExp(
        `^Rotation of primero\\.test failed: primero\\.test:${nginx.port} still serves ${sha(third)} after 1 s, not the new certificate ${sha(next)}\\. Then the previous pair was restored, but the server does not serve it \\(it serves ${sha(third)}; the reload failed: The reload command .+ failed \\(exit 5\\)\\.\\): check the server now\\.$`,
      ),
    );
  });

  test('a current pair that cannot be read as a certificate: restored without a served check', async () => {
    const { nginx, config } = await filesSite({ reloadCommand: 'exit 2' });
    await writeFile(nginx.certFile, 'not a certificate');
    const failure = await refusal(
      rotateCertificate(config.loaded, 'web', await newFiles(next), { pollMs: 50 }),
    );
    expect(failure.message).toBe(
      'Rotation of primero.test failed: The reload command `exit 2` failed (exit 2). Then the previous pair was restored.',
    );
    expect(await readFile(nginx.certFile, 'utf8')).toBe('not a certificate');
  });

  test('a rollback that cannot put the pair back says so, and where the pair is kept', async () => {
    const { nginx, config } = await filesSite(
      (server) => ({
        reloadCommand: 'true',
        backupDir: join(server.dir, 'kept'),
        // After the install, the folder of the pair disappears: nothing can be put back there.
        testCommand: `rm -rf ${join(server.dir, 'ssl')}; exit 1`,
      }),
      { verifyTimeout: '1s' },
    );
    const failure = await refusal(
      rotateCertificate(config.loaded, 'web', await newFiles(next), { pollMs: 50 }),
    );
    expect(failure.message).toMatch(
      new RegExp(
        `^Rotation of primero\\.test failed: The configuration test command .+ failed \\(exit 1\\)\\. Then ROLLBACK FAILED: the previous pair could not be put back \\(.+\\); it is kept at ${join(nginx.dir, 'kept')}/[^ ]+, restore it by hand now\\.$`,
      ),
    );
  });
});

describe('a Kubernetes Secret', () => {
  async function secretSite(tls: Record<string, unknown> = {}) {
    const nginx = await startNginx(current);
    running.push(nginx);
    api.secrets.set(`${NS}/primero-tls`, tlsSecret(NS, 'primero-tls', current));
    api.deployments.set(`${NS}/primero-nginx`, deployment(NS, 'primero-nginx'));
    api.onRollout = () => serveSecret(nginx);
    const config = await certsConfig(
      {
        host: SNI_HOST,
        port: nginx.port,
        connectAddress: '127.0.0.1',
        caFile,
        verifyTimeout: '10s',
        source: { type: 'kubernetes-secret', secret: 'primero-tls' },
        ...tls,
      },
      { kubernetes: { namespace: NS, context: 'fake-context' } },
    );
    return { nginx, config };
  }
  const secretPem = (name: string) =>
    Buffer.from(api.secrets.get(`${NS}/${name}`)!.data['tls.crt'], 'base64').toString('utf8');

  test('--dry-run: the plan names the Secret, its copy and the Deployment; a missing Deployment is refused', async () => {
    const { nginx, config } = await secretSite();
    const plan = await rotateCertificate(config.loaded, 'web', await newFiles(next), {
      dryRun: true,
      kubeconfig: api.kubeconfig,
    });
    expect(plan).toMatchObject({
      installTo: `Secret ${NS}/primero-tls`,
      saveTo: `Secret ${NS}/primero-tls-previous`,
      current: { sha256: sha(current) },
      configTest: null,
      reload: `a rolling restart of Deployment ${NS}/primero-nginx`,
      verifyAt: `${SNI_HOST}:${nginx.port}`,
    });
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    api.deployments.clear();
    const refused = await refusal(
      rotateCertificate(config.loaded, 'web', await newFiles(next), {
        dryRun: true,
        kubeconfig: api.kubeconfig,
      }),
    );
    expect(refused.message).toMatch(/primero-nginx/);
  });

  test('rotates: the copy is labelled with the Secret it keeps, the Secret holds the new pair, it is served', async () => {
    const { nginx, config } = await secretSite();
    const result = await rotateCertificate(config.loaded, 'web', await newFiles(next), {
      kubeconfig: api.kubeconfig,
      pollMs: 50,
    });
    expect(result).toMatchObject({
      installedTo: `Secret ${NS}/primero-tls`,
      previousSavedAt: `Secret ${NS}/primero-tls-previous`,
      servedSha256: sha(next),
    });
    const copy = api.secrets.get(`${NS}/primero-tls-previous`)!;
    expect([copy.type, copy.metadata.labels?.['tier4.primero.org/previous-of']]).toEqual([
      'kubernetes.io/tls',
      'primero-tls',
    ]);
    expect(secretPem('primero-tls-previous')).toBe(current.cert);
    expect(Buffer.from(copy.data['tls.key'], 'base64').toString()).toBe(current.key);
    expect(secretPem('primero-tls')).toBe(next.cert);
    expect(await settledFingerprint(nginx.port, sha(next))).toBe(sha(next));
  });

  test('a rollout that fails: the Secret is put back', async () => {
    const { config } = await secretSite({ verifyTimeout: '10s' });
    let failures = 1;
    const serve = api.onRollout;
    api.onRollout = async (namespace, name) => {
      if (failures-- > 0) throw new Error('pods crash-looping');
      await serve(namespace, name);
    };
    const failure = await refusal(
      rotateCertificate(config.loaded, 'web', await newFiles(next), {
        kubeconfig: api.kubeconfig,
        pollMs: 50,
      }),
    );
    expect(failure.message).toMatch(
      /pods crash-looping.* Then the previous certificate was restored and is served again\.$/,
    );
    expect(secretPem('primero-tls')).toBe(current.cert);
  });
});

describe('cert-manager', () => {
  async function managedSite(tls: Record<string, unknown> = {}) {
    const nginx = await startNginx(current);
    running.push(nginx);
    api.secrets.set(`${NS}/primero-tls`, tlsSecret(NS, 'primero-tls', current));
    api.deployments.set(`${NS}/primero-nginx`, deployment(NS, 'primero-nginx'));
    api.certificates.set(`${NS}/primero`, {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'primero', namespace: NS, generation: 1 },
      status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready' }], revision: 1 },
    });
    api.onIssue = async () => {
      api.secrets.set(`${NS}/primero-tls`, tlsSecret(NS, 'primero-tls', next));
    };
    api.onRollout = () => serveSecret(nginx);
    const config = await certsConfig(
      {
        host: SNI_HOST,
        port: nginx.port,
        connectAddress: '127.0.0.1',
        caFile,
        verifyTimeout: '10s',
        source: { type: 'cert-manager', secret: 'primero-tls', certificate: 'primero' },
        ...tls,
      },
      { kubernetes: { namespace: NS, context: 'fake-context' } },
    );
    return { nginx, config };
  }

  test('the plan of a renewal; a missing Certificate; a site that is not cert-manager', async () => {
    const { nginx, config } = await managedSite();
    const plan = await planManagedRenewal(config.loaded, 'web', { kubeconfig: api.kubeconfig });
    expect(plan).toMatchObject({
      site: 'web',
      dryRun: true,
      certificate: { ready: true },
      reload: `a rolling restart of Deployment ${NS}/primero-nginx`,
      verifyAt: `${SNI_HOST}:${nginx.port}`,
    });
    api.certificates.clear();
    const missing = await refusal(planManagedRenewal(config.loaded, 'web', { kubeconfig: api.kubeconfig }));
    expect([missing.constructor, missing.message, missing.hint]).toEqual([
      OperationError,
      `cert-manager Certificate ${NS}/primero does not exist; a renewal would fail.`,
      'Deploy the site (the chart creates it), or check tls.source.certificate.',
    ]);
    const { config: files } = await filesSite();
    const notManaged = await refusal(planManagedRenewal(files.loaded, 'web'));
    expect([notManaged.constructor, notManaged.message]).toEqual([
      UsageError,
      'The certificate of web is not managed by cert-manager.',
    ]);
    const notRenewed = await refusal(renewManagedCertificate(files.loaded, 'web'));
    expect([notRenewed.constructor, notRenewed.message, notRenewed.hint]).toEqual([
      UsageError,
      'The certificate of web is not managed by cert-manager.',
      'Pass --cert FILE --key FILE with the new certificate (full chain) and its key.',
    ]);
  });

  test('renews: re-issued, the Deployment restarted, the new certificate served', async () => {
    const { nginx, config } = await managedSite();
    const steps: string[] = [];
    const result = await renewManagedCertificate(config.loaded, 'web', {
      kubeconfig: api.kubeconfig,
      pollMs: 50,
      onProgress: (text) => steps.push(text),
    });
    expect(result).toMatchObject({
      site: 'web',
      servedSha256: sha(next),
      served: true,
      certificate: { ready: true },
    });
    expect(steps).toEqual([
      `Asking cert-manager to issue ${NS}/primero again`,
      `Restarting Deployment ${NS}/primero-nginx`,
    ]);
    expect(await settledFingerprint(nginx.port, sha(next))).toBe(sha(next));
  });

  test('a new certificate nginx never serves; a Secret gone after issuance', async () => {
    const { nginx, config } = await managedSite({ verifyTimeout: '1s' });
    api.onRollout = async () => {};
    const failure = await refusal(
      renewManagedCertificate(config.loaded, 'web', { kubeconfig: api.kubeconfig, pollMs: 50 }),
    );
    expect([failure.constructor, failure.message, failure.hint]).toEqual([
      OperationError,
      `cert-manager issued ${sha(next)}, but ${SNI_HOST}:${nginx.port} serves ${sha(current)}.`,
      'Check that the nginx Deployment mounts this Secret and that sites.web.tls.source.deployment (now primero-nginx) names it.',
    ]);
    api.onIssue = async () => {
      api.secrets.delete(`${NS}/primero-tls`);
    };
    const gone = await refusal(
      renewManagedCertificate(config.loaded, 'web', { kubeconfig: api.kubeconfig, pollMs: 50 }),
    );
    expect([gone.constructor, gone.message]).toEqual([
      OperationError,
      `Secret ${NS}/primero-tls is missing after issuance.`,
    ]);
  });
});
