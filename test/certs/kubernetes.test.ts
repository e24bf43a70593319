import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { certificateHealth } from '../../certs/status.js';
import { certsConfig } from '../support/certs-config.js';
import {
  createIntermediate,
  createRootCa,
  type Issuer,
  issueLeaf,
  keyPem,
  type TestPair,
} from '../support/certs-factory.js';
import { deployment, type FakeKubeApi, startFakeKubeApi, tlsSecret } from '../support/certs-kube-api.js';
import { type RunningNginx, SNI_HOST, settledFingerprint, startNginx } from '../support/certs-nginx.js';
import { tier4 } from '../support/cli.js';
import { testSecret } from '../support/secrets.js';

/**
 * The Kubernetes path, through @kubernetes/client-node, against a fake API server (no cluster runs here).
 * The fake's rollout hook plays the pods' part: it copies the Secret into a real nginx and reloads it, so
 * the check that the new certificate is served is a real TLS handshake.
 */

const NS = 'primero';
let root: Issuer;
let issuing: Issuer;
let current: TestPair;
let next: TestPair;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  root = await createRootCa('Tier4 Test Root');
  issuing = await createIntermediate(root, 'Tier4 Test Issuing CA');
  current = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 45 });
  next = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 365 });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sha256 = (pem: string) => new X509Certificate(pem).fingerprint256;
const secretPem = (api: FakeKubeApi, name: string, key: string) =>
  Buffer.from(api.secrets.get(`${NS}/${name}`)!.data[key], 'base64').toString('utf8');

/** Copies a Secret into nginx's files and reloads it, as new pods mounting the Secret would serve it. */
async function serveSecret(api: FakeKubeApi, nginx: RunningNginx, name = 'primero-tls') {
  await writeFile(nginx.certFile, secretPem(api, name, 'tls.crt'));
  await writeFile(nginx.keyFile, secretPem(api, name, 'tls.key'));
  const [file, ...args] = nginx.reloadCommand.split(' ');
  await execa(file!, args);
}

async function cluster(source: Record<string, unknown>, tls: Record<string, unknown> = {}) {
  const token = testSecret('kube-token');
  const api = await startFakeKubeApi({ token, namespace: NS });
  cleanups.push(() => api.stop());
  const nginx = await startNginx(current);
  cleanups.push(() => nginx.stop());
  api.secrets.set(`${NS}/primero-tls`, tlsSecret(NS, 'primero-tls', current));
  api.deployments.set(`${NS}/primero-nginx`, deployment(NS, 'primero-nginx'));
  api.onRollout = () => serveSecret(api, nginx);
  const caFile = join(nginx.dir, 'ca.pem');
  await writeFile(caFile, root.pem);
  const config = await certsConfig(
    {
      host: SNI_HOST,
      caFile,
      port: nginx.port,
      connectAddress: '127.0.0.1',
      verifyTimeout: '10s',
      source,
      ...tls,
    },
    { kubernetes: { namespace: NS, context: 'fake-context' } },
  );
  const env = { KUBECONFIG: api.kubeconfig };
  return { api, nginx, config, env, token };
}

describe('tier4 certs rotate (kubernetes-secret)', () => {
  test('updates the Secret, restarts the nginx Deployment, waits for it and proves the new certificate is served', async () => {
    const { api, nginx, config, env, token } = await cluster({
      type: 'kubernetes-secret',
      secret: 'primero-tls',
    });
    const files = { cert: join(config.dir, 'new.crt'), key: join(config.dir, 'new.key') };
    await writeFile(files.cert, next.cert);
    await writeFile(files.key, next.key, { mode: 0o600 });

    const result = await tier4(
      ['--json', 'certs', 'rotate', '-c', config.file, '--cert', files.cert, '--key', files.key],
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      installedTo: `Secret ${NS}/primero-tls`,
      previousSavedAt: `Secret ${NS}/primero-tls-previous`,
    });
    expect(secretPem(api, 'primero-tls', 'tls.crt')).toBe(next.cert);
    expect(secretPem(api, 'primero-tls-previous', 'tls.crt')).toBe(current.cert);
    expect(await settledFingerprint(nginx.port, sha256(next.leaf))).toBe(sha256(next.leaf));

    const patch = api.requests.find(
      (r) => r.method === 'PATCH' && r.path.endsWith('/deployments/primero-nginx'),
    );
    expect(patch?.contentType).toBe('application/strategic-merge-patch+json');
    expect(patch?.body?.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toMatch(
      /^\d{4}-/,
    );
    const put = api.requests.find((r) => r.method === 'PUT' && r.path.endsWith('/secrets/primero-tls'));
    expect(put?.body?.metadata.resourceVersion).toBeTruthy(); // optimistic concurrency
    expect(api.requests.every((r) => r.authorization === `Bearer ${token}`)).toBe(true);
  });

  test('a rollout that never finishes rolls the Secret back and restarts again', async () => {
    const { api, nginx, config, env } = await cluster({ type: 'kubernetes-secret' }, { verifyTimeout: '2s' });
    let first = true;
    api.onRollout = async () => {
      if (first) {
        first = false;
        await new Promise(() => {}); // the first rollout hangs
      }
      await serveSecret(api, nginx);
    };
    const before = structuredClone(api.secrets.get(`${NS}/primero-tls`)!.data);
    const files = { cert: join(config.dir, 'new.crt'), key: join(config.dir, 'new.key') };
    await writeFile(files.cert, next.cert);
    await writeFile(files.key, next.key);
    const result = await tier4(
      ['certs', 'rotate', '-c', config.file, '--cert', files.cert, '--key', files.key],
      { env },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Deployment primero\/primero-nginx did not finish its rollout within 2 s/);
    expect(result.stderr).toMatch(/the previous certificate was restored and is served again/);
    expect(api.secrets.get(`${NS}/primero-tls`)!.data).toEqual(before);
    expect(await settledFingerprint(nginx.port, sha256(current.leaf))).toBe(sha256(current.leaf));
  });

  test('a rollout past its progress deadline fails at once and is rolled back', async () => {
    const { api, nginx, config, env } = await cluster(
      { type: 'kubernetes-secret' },
      { verifyTimeout: '60s' },
    );
    let failures = 1;
    api.onRollout = async () => {
      if (failures-- > 0) throw new Error('pods crash-looping');
      await serveSecret(api, nginx);
    };
    const before = structuredClone(api.secrets.get(`${NS}/primero-tls`)!.data);
    const files = { cert: join(config.dir, 'new.crt'), key: join(config.dir, 'new.key') };
    await writeFile(files.cert, next.cert);
    await writeFile(files.key, next.key);
    const result = await tier4(
      ['certs', 'rotate', '-c', config.file, '--cert', files.cert, '--key', files.key],
      { env },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /Deployment primero\/primero-nginx exceeded its progress deadline: .*pods crash-looping/,
    );
    expect(result.stderr).toMatch(/the previous certificate was restored and is served again/);
    expect(api.secrets.get(`${NS}/primero-tls`)!.data).toEqual(before);
    expect(await settledFingerprint(nginx.port, sha256(current.leaf))).toBe(sha256(current.leaf));
  });

  test('a bad pair never reaches the API', async () => {
    const { api, config, env } = await cluster({ type: 'kubernetes-secret' });
    const files = { cert: join(config.dir, 'bad.crt'), key: join(config.dir, 'bad.key') };
    await writeFile(files.cert, next.cert);
    await writeFile(files.key, current.key);
    const result = await tier4(
      ['certs', 'rotate', '-c', config.file, '--cert', files.cert, '--key', files.key],
      { env },
    );
    expect(result.code).toBe(2);
    expect(api.requests).toEqual([]);
  });
});

describe('tier4 certs status (Kubernetes)', () => {
  test('the Secret is the stored certificate; one that was never rolled out fails', async () => {
    const { api, config, env } = await cluster({ type: 'kubernetes-secret' });
    const ok = await tier4(['certs', 'status', '-c', config.file], { env });
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`OK  ${SNI_HOST}, stored (Secret ${NS}/primero-tls)`);
    expect(ok.stdout).toMatch(/\((44|45) days left\)/);

    api.secrets.set(`${NS}/primero-tls`, tlsSecret(NS, 'primero-tls', next));
    const stale = await tier4(['certs', 'status', '-c', config.file], { env });
    expect(stale.code).toBe(1);
    expect(stale.stdout).toContain('the served certificate is not the stored one');
  });

  test('certificateHealth gives doctor one line per certificate with days left', async () => {
    const { api, config } = await cluster({ type: 'kubernetes-secret' });
    const health = await certificateHealth(config.loaded, 'web', { kubeconfig: api.kubeconfig });
    expect(health.map((h) => h.where)).toEqual(['served', 'stored']);
    for (const line of health) {
      expect(line.status).toBe('ok');
      expect(line.daysLeft).toBeGreaterThanOrEqual(44);
      expect(line.notAfter).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(line.message).toMatch(/days left/);
    }
  });
});

/** A Ready cert-manager Certificate `primero`; re-issuance writes the next pair into its Secret. */
function readyCertificate(api: FakeKubeApi) {
  api.certificates.set(`${NS}/primero`, {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: 'primero', namespace: NS, generation: 1 },
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready' }], revision: 1 },
  });
  api.onIssue = async () => {
    api.secrets.set(`${NS}/primero-tls`, tlsSecret(NS, 'primero-tls', next));
  };
}

describe('cert-manager', () => {
  test('rotate triggers re-issuance, waits for Ready, restarts nginx and checks the new certificate is served', async () => {
    const { api, nginx, config, env } = await cluster({ type: 'cert-manager', secret: 'primero-tls' });
    readyCertificate(api);
    const status = await tier4(['certs', 'status', '-c', config.file], { env });
    expect(status.stdout).toContain('cert-manager Certificate primero: Ready, revision 1');

    const refused = await tier4(
      ['certs', 'rotate', '-c', config.file, '--cert', config.file, '--key', config.file],
      { env },
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('issued by cert-manager');

    const result = await tier4(['certs', 'rotate', '-c', config.file], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('revision 2');
    const patch = api.requests.find(
      (r) => r.method === 'PATCH' && r.path.endsWith('/certificates/primero/status'),
    );
    expect(patch?.contentType).toBe('application/merge-patch+json');
    expect(patch?.body?.status.conditions.map((c: { type: string }) => c.type)).toEqual(['Ready', 'Issuing']);
    expect(await settledFingerprint(nginx.port, sha256(next.leaf))).toBe(sha256(next.leaf));
  });

  test('a new certificate nginx never serves names the setting that picks the Deployment to restart', async () => {
    const { api, config, env } = await cluster(
      { type: 'cert-manager', secret: 'primero-tls' },
      { verifyTimeout: '2s' },
    );
    readyCertificate(api);
    api.onRollout = async () => {}; // the restarted pods do not mount this Secret: the old pair stays served
    const result = await tier4(['certs', 'rotate', '-c', config.file], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('tls.source.deployment (now primero-nginx) names it');
  });

  test('a Certificate that is not Ready fails status', async () => {
    const { api, config, env } = await cluster({ type: 'cert-manager' });
    api.certificates.set(`${NS}/primero`, {
      metadata: { name: 'primero', namespace: NS, generation: 1 },
      status: {
        conditions: [{ type: 'Ready', status: 'False', reason: 'Failed', message: 'ACME order failed' }],
      },
    });
    const result = await tier4(['certs', 'status', '-c', config.file], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'cert-manager Certificate primero is not Ready (Failed: ACME order failed)',
    );
  });
});

describe('client certificates in Secrets', () => {
  test('client create stores a labelled TLS Secret, and status lists it', async () => {
    const { api, config, env } = await cluster(
      { type: 'kubernetes-secret' },
      { clients: { store: { type: 'kubernetes-secret' } } },
    );
    const result = await tier4(
      ['--json', 'certs', 'client', 'create', '-c', config.file, '--name', 'progres', '--self-signed'],
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout);
    const secret = api.secrets.get(`${NS}/tier4-client-progres`)!;
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'tier4',
      'tier4.primero.org/client-certificate': 'progres',
    });
    expect(new X509Certificate(secretPem(api, 'tier4-client-progres', 'tls.crt')).fingerprint).toBe(doc.sha1);

    const status = await tier4(['certs', 'status', '-c', config.file], { env });
    expect(status.stdout).toContain(`client progres, stored (${NS}/tier4-client-progres)`);
    expect(status.stdout).toContain(doc.sha1);
  });

  test('a CSR-mode client keeps key and CSR in an Opaque Secret; install adds the signed certificate', async () => {
    const { api, config, env } = await cluster(
      { type: 'kubernetes-secret' },
      { clients: { store: { type: 'kubernetes-secret' } } },
    );
    const created = await tier4(['certs', 'client', 'create', '-c', config.file, '--name', 'dtp'], { env });
    expect(created.code, created.stderr).toBe(0);
    expect(api.secrets.get(`${NS}/tier4-client-dtp`)!.type).toBe('Opaque');
    await writeFile(join(config.dir, 'dtp.csr'), secretPem(api, 'tier4-client-dtp', 'tls.csr'));
    await writeFile(join(config.dir, 'ca.key'), await keyPem(root.keys), { mode: 0o600 });
    await writeFile(join(config.dir, 'ca.pem'), root.pem);
    const signed = join(config.dir, 'dtp.crt');
    const sign = await execa(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        join(config.dir, 'dtp.csr'),
        '-CA',
        join(config.dir, 'ca.pem'),
        '-CAkey',
        join(config.dir, 'ca.key'),
        '-CAcreateserial',
        '-copy_extensions',
        'copy',
        '-days',
        '30',
        '-out',
        signed,
      ],
      { reject: false },
    );
    expect(sign.exitCode, sign.stderr).toBe(0);
    const installed = await tier4(
      ['--json', 'certs', 'client', 'install', '-c', config.file, '--name', 'dtp', '--cert', signed],
      { env },
    );
    expect(installed.code, installed.stderr).toBe(0);
    expect(secretPem(api, 'tier4-client-dtp', 'tls.crt')).toBe(await readFile(signed, 'utf8'));
    expect(secretPem(api, 'tier4-client-dtp', 'tls.csr')).toContain('CERTIFICATE REQUEST');
    const openssl = await execa('openssl', ['x509', '-in', signed, '-noout', '-fingerprint', '-sha1']);
    expect(JSON.parse(installed.stdout).sha1).toBe(openssl.stdout.trim().replace(/^sha1 Fingerprint=/i, ''));
  });
});
