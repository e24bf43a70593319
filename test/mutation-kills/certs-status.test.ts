import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLIENT_LABEL, certificateHealth, certificateStatus } from '../../certs/status.js';
import { freePort } from '../../rehearsal/postgres-server.js';
import { certsConfig } from '../support/certs-config.js';
import {
  createIntermediate,
  createRootCa,
  type Issuer,
  issueLeaf,
  type TestPair,
} from '../support/certs-factory.js';
import { type FakeKubeApi, startFakeKubeApi, tlsSecret } from '../support/certs-kube-api.js';
import { type RunningNginx, SNI_HOST, startNginx } from '../support/certs-nginx.js';
import { opensslSelfSigned } from '../support/certs-openssl.js';
import { testSecret } from '../support/secrets.js';

// certs status (certs/status.ts), in-process: real nginx servers (started once) present the certificates;
// the stored copies are files or Secrets in the fake Kubernetes API; `now` is moved to each boundary.

const DAY = 86_400_000;
const NS = 'primero';
let root: Issuer;
let good: TestPair; // leaf + intermediate, trusted through the root in tls.caFile
let other: TestPair; // another good certificate for the same name
let bare: TestPair; // the same kind of leaf without its intermediate
let selfSigned: TestPair; // made by openssl, self-signed
const servers: Record<'good' | 'bare' | 'selfSigned', RunningNginx> = {} as never;
let caFile: string;
let api: FakeKubeApi;

beforeAll(async () => {
  root = await createRootCa('Tier4 Status Root');
  const issuing = await createIntermediate(root, 'Tier4 Status Issuing CA');
  good = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 90 });
  other = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 90 });
  bare = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: 90, omitChain: true });
  selfSigned = await opensslSelfSigned(SNI_HOST, [`subjectAltName=DNS:${SNI_HOST}`], 60);
  servers.good = await startNginx(good);
  servers.bare = await startNginx(bare);
  servers.selfSigned = await startNginx(selfSigned);
  const dir = await mkdtemp(join(tmpdir(), 'tier4-status-ca-'));
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, root.pem);
  api = await startFakeKubeApi({ token: testSecret('kube-token'), namespace: NS });
});
afterAll(async () => {
  await Promise.all(Object.values(servers).map((server) => server.stop()));
  await api?.stop();
});

const leafOf = (pair: TestPair) => new X509Certificate(pair.leaf);
const sha = (pair: TestPair) => leafOf(pair).fingerprint256.toUpperCase();
const notAfter = (pair: TestPair) => new Date(leafOf(pair).validTo).getTime();

/** A pair written to files, for tls.source {type: files}. */
async function storedFiles(pair: { cert: string; key: string }) {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-status-stored-'));
  const [cert, key] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
  await writeFile(cert, pair.cert);
  await writeFile(key, pair.key, { mode: 0o600 });
  return { type: 'files', cert, key, reloadCommand: 'true' };
}

async function status(
  server: RunningNginx | number,
  tls: Record<string, unknown> = {},
  options: { now?: Date; kube?: boolean } = {},
) {
  const config = await certsConfig(
    {
      host: SNI_HOST,
      port: typeof server === 'number' ? server : server.port,
      connectAddress: '127.0.0.1',
      caFile,
      ...tls,
    },
    options.kube ? { kubernetes: { namespace: NS, context: 'fake-context' } } : {},
  );
  return certificateStatus(config.loaded, 'web', {
    ...(options.now ? { now: options.now } : {}),
    ...(options.kube ? { kubeconfig: api.kubeconfig } : {}),
  });
}

const served = (report: Awaited<ReturnType<typeof status>>) =>
  report.entries.find((e) => e.where === 'served')!;
const stored = (report: Awaited<ReturnType<typeof status>>) =>
  report.entries.find((e) => e.where === 'stored' && !e.certificate.startsWith('client '))!;

describe('expiry against warnDays and failDays', () => {
  /** The served good certificate with exactly `days` (and a second) left. */
  const daysLeft = (days: number) => new Date(notAfter(good) - days * DAY - 1000);

  test.each([
    [31, 'ok', []],
    [30, 'ok', []],
    [29, 'warn', [{ level: 'warn', message: 'expires in 29 days (warn under 30)' }]],
    [14, 'warn', [{ level: 'warn', message: 'expires in 14 days (warn under 30)' }]],
    [13, 'fail', [{ level: 'fail', message: 'expires in 13 days (fail under 14)' }]],
    [0, 'fail', [{ level: 'fail', message: 'expires in 0 days (fail under 14)' }]],
  ])('%i days left: %s', async (days, level, findings) => {
    const report = await status(servers.good, {}, { now: daysLeft(days) });
    expect(served(report).info!.daysLeft).toBe(days);
    expect(served(report).findings).toEqual(findings);
    expect([served(report).status, report.status]).toEqual([level, level]);
  });

  test('at notAfter itself 0 days are left; a second later it has expired', async () => {
    const at = await status(servers.good, {}, { now: new Date(notAfter(good)) });
    expect(served(at).findings).toEqual([{ level: 'fail', message: 'expires in 0 days (fail under 14)' }]);
    const after = await status(servers.good, {}, { now: new Date(notAfter(good) + 1000) });
    expect(served(after).findings).toEqual([
      { level: 'fail', message: `expired on ${new Date(notAfter(good)).toISOString()}` },
    ]);
  });

  test('the thresholds are the configured ones', async () => {
    const report = await status(servers.good, { warnDays: 10, failDays: 3 }, { now: daysLeft(9) });
    expect(served(report).findings).toEqual([
      { level: 'warn', message: 'expires in 9 days (warn under 10)' },
    ]);
    expect([report.warnDays, report.failDays]).toEqual([10, 3]);
    const failing = await status(servers.good, { warnDays: 10, failDays: 3 }, { now: daysLeft(2) });
    expect(served(failing).findings).toEqual([
      { level: 'fail', message: 'expires in 2 days (fail under 3)' },
    ]);
  });

  test('not valid yet: refused until its notBefore', async () => {
    const from = new Date(leafOf(good).validFrom).getTime();
    const early = await status(servers.good, {}, { now: new Date(from - 1000) });
    expect(served(early).findings).toEqual([
      { level: 'fail', message: `not valid before ${new Date(from).toISOString()}` },
    ]);
    expect(served(await status(servers.good, {}, { now: new Date(from) })).findings).toEqual([]);
  });
});

describe('the served certificate', () => {
  test('a good one: the report names the site, where it was read, and has no finding', async () => {
    const report = await status(servers.good);
    expect(report).toMatchObject({
      site: 'web',
      host: SNI_HOST,
      port: servers.good.port,
      warnDays: 30,
      failDays: 14,
      status: 'ok',
      certManager: null,
      notes: ['tls.source is not set: only the served certificate is checked.'],
    });
    expect(report.entries).toHaveLength(1);
    expect(served(report)).toMatchObject({
      certificate: SNI_HOST,
      where: 'served',
      location: `${SNI_HOST}:${servers.good.port} via 127.0.0.1`,
      status: 'ok',
      findings: [],
    });
    expect(served(report).info!.sha256).toBe(sha(good));
  });

  test('names it does not cover, a missing intermediate, a self-signed chain: each its own finding', async () => {
    const names = await status(servers.good, { altNames: ['www.primero.test', 'api.primero.test'] });
    expect(served(names).findings).toEqual([
      { level: 'fail', message: 'does not cover www.primero.test, api.primero.test' },
    ]);
    const chain = await status(servers.bare);
    expect(served(chain).findings).toEqual([
      {
        level: 'fail',
        message:
          'chain does not reach a trusted CA: the issuer of "CN=primero.test" ("CN=Tier4 Status Issuing CA") is neither in the chain nor a trusted CA',
      },
    ]);
    const untrusted = await status(servers.selfSigned);
    expect(served(untrusted).findings).toEqual([
      {
        level: 'fail',
        message:
          'chain not trusted: the chain ends at the self-signed "CN=primero.test", which is not a trusted CA (set tls.caFile for a private CA)',
      },
    ]);
    expect(untrusted.status).toBe('fail');
  });

  test('a server that cannot be reached fails with the reason, and nothing else is read from it', async () => {
    const port = await freePort();
    const report = await status(port);
    expect(served(report)).toMatchObject({
      status: 'fail',
      info: null,
      location: `${SNI_HOST}:${port} via 127.0.0.1`,
    });
    expect(served(report).findings).toEqual([
      {
        level: 'fail',
        message: `Cannot complete a TLS handshake with ${SNI_HOST}:${port} (via 127.0.0.1): connect ECONNREFUSED 127.0.0.1:${port}`,
      },
    ]);
  });

  test('connecting to the host itself: the location is host:port alone', async () => {
    const config = await certsConfig({ host: '127.0.0.1', port: servers.good.port, caFile });
    const report = await certificateStatus(config.loaded, 'web');
    expect(served(report).location).toBe(`127.0.0.1:${servers.good.port}`);
    expect(served(report).findings).toEqual([{ level: 'fail', message: 'does not cover 127.0.0.1' }]);
  });
});

describe('the stored pair (files)', () => {
  test('the same certificate as served: both ok', async () => {
    const report = await status(servers.good, { source: await storedFiles(good) });
    expect(report.entries.map((e) => [e.where, e.status])).toEqual([
      ['served', 'ok'],
      ['stored', 'ok'],
    ]);
    expect(stored(report).location).toMatch(/tls\.crt$/);
    expect(report.notes).toEqual([]);
  });

  test('another certificate than the served one fails the served entry: the server was not reloaded', async () => {
    const report = await status(servers.good, { source: await storedFiles(other) });
    expect(served(report).findings).toEqual([
      {
        level: 'fail',
        message:
          'the served certificate is not the stored one: the server was not reloaded after the last renewal (run `tier4 certs rotate`, or reload nginx)',
      },
    ]);
    expect([served(report).status, stored(report).status, report.status]).toEqual(['fail', 'ok', 'fail']);
    const health = await certificateHealth(
      (
        await certsConfig({
          host: SNI_HOST,
          port: servers.good.port,
          connectAddress: '127.0.0.1',
          caFile,
          source: await storedFiles(other),
        })
      ).loaded,
      'web',
    );
    expect(health.map((h) => [h.where, h.status, h.servedMatchesStored])).toEqual([
      ['served', 'fail', false],
      ['stored', 'ok', undefined],
    ]);
  });

  test('a key of another certificate, a key that is no key, a certificate that is no certificate', async () => {
    const mismatched = await status(servers.good, {
      source: await storedFiles({ cert: good.cert, key: other.key }),
    });
    expect(stored(mismatched).findings).toEqual([
      { level: 'fail', message: 'the stored key does not belong to the stored certificate' },
    ]);
    expect([stored(mismatched).status, served(mismatched).status]).toEqual(['fail', 'ok']);
    const notKey = await status(servers.good, {
      source: await storedFiles({ cert: good.cert, key: 'nonsense' }),
    });
    expect(stored(notKey).findings).toEqual([
      { level: 'fail', message: 'the stored key is not a PEM private key.' },
    ]);
    const source = await storedFiles({ cert: 'nonsense', key: good.key });
    const notCert = await status(servers.good, { source });
    expect(stored(notCert)).toMatchObject({
      status: 'fail',
      info: null,
      findings: [{ level: 'fail', message: `${source.cert} holds no PEM certificate.` }],
    });
    expect(served(notCert).findings).toEqual([]);
  });

  test('the stored copy is held to the same rules as the served one', async () => {
    const report = await status(
      servers.good,
      { source: await storedFiles(good) },
      { now: new Date(notAfter(good) - 20 * DAY) },
    );
    expect(stored(report).findings).toEqual([
      { level: 'warn', message: 'expires in 20 days (warn under 30)' },
    ]);
    const early = new Date(new Date(leafOf(good).validFrom).getTime() - 1000);
    const notYet = await status(servers.good, { source: await storedFiles(good) }, { now: early });
    expect(stored(notYet).findings).toEqual([
      { level: 'fail', message: `not valid before ${new Date(leafOf(good).validFrom).toISOString()}` },
    ]);
  });

  test('missing files, and files that cannot be read', async () => {
    const source = await storedFiles(good);
    const missing = await status(servers.good, { source: { ...source, cert: `${source.cert}.gone` } });
    expect(stored(missing)).toMatchObject({
      location: `${source.cert}.gone`,
      status: 'fail',
      info: null,
      findings: [{ level: 'fail', message: `${source.cert}.gone or ${source.key} does not exist` }],
    });
    const folder = await mkdtemp(join(tmpdir(), 'tier4-status-folder-'));
    const unreadable = await status(servers.good, { source: { ...source, cert: folder } });
    expect(stored(unreadable).findings).toEqual([
      { level: 'fail', message: `Cannot read ${folder} or ${source.key} (EISDIR).` },
    ]);
  });
});

describe('client certificates', () => {
  test('every .crt in the folder, in name order, held to warnDays/failDays; other files and a missing folder are ignored', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-status-clients-'));
    const soon = await issueLeaf(root, { names: ['client-b'], notAfterDays: 20, purpose: 'clientAuth' });
    const later = await issueLeaf(root, { names: ['client-a'], notAfterDays: 200, purpose: 'clientAuth' });
    await writeFile(join(dir, 'progres.crt'), soon.cert);
    await writeFile(join(dir, 'dtp.crt'), later.cert);
    await writeFile(join(dir, 'dtp.key'), later.key);
    await writeFile(join(dir, 'broken.crt'), 'nonsense');
    await mkdir(join(dir, 'notes'));
    const report = await status(servers.good, { clients: { store: { type: 'files', dir } } });
    expect(report.entries.map((e) => [e.certificate, e.where, e.location, e.status])).toEqual([
      [SNI_HOST, 'served', `${SNI_HOST}:${servers.good.port} via 127.0.0.1`, 'ok'],
      ['client broken', 'stored', join(dir, 'broken.crt'), 'fail'],
      ['client dtp', 'stored', join(dir, 'dtp.crt'), 'ok'],
      ['client progres', 'stored', join(dir, 'progres.crt'), 'warn'],
    ]);
    expect(report.entries[1]!.findings).toEqual([
      { level: 'fail', message: `${join(dir, 'broken.crt')} holds no PEM certificate.` },
    ]);
    expect(report.entries[3]!.findings).toEqual([
      { level: 'warn', message: 'expires in 19 days (warn under 30)' },
    ]);
    expect(report.status).toBe('fail');
    const none = await status(servers.good, {
      clients: { store: { type: 'files', dir: join(dir, 'gone') } },
    });
    expect(none.entries).toHaveLength(1);
    expect(none.notes).toEqual(['tls.source is not set: only the served certificate is checked.']);
  });

  test('labelled Secrets in the cluster; a Secret without a certificate (a pending CSR) is skipped', async () => {
    const client = await issueLeaf(root, { names: ['client'], notAfterDays: 100, purpose: 'clientAuth' });
    const labelled = tlsSecret(NS, 'tier4-client-progres', client);
    labelled.metadata.labels = { [CLIENT_LABEL]: 'progres' };
    api.secrets.set(`${NS}/tier4-client-progres`, labelled);
    api.secrets.set(`${NS}/tier4-client-dtp`, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: 'tier4-client-dtp', namespace: NS, labels: { [CLIENT_LABEL]: 'dtp' } },
      data: { 'tls.key': Buffer.from(client.key).toString('base64') },
    });
    try {
      const report = await status(
        servers.good,
        { clients: { store: { type: 'kubernetes-secret' } } },
        { kube: true },
      );
      expect(report.entries.map((e) => [e.certificate, e.location, e.status])).toEqual([
        [SNI_HOST, `${SNI_HOST}:${servers.good.port} via 127.0.0.1`, 'ok'],
        ['client progres', `${NS}/tier4-client-progres`, 'ok'],
      ]);
    } finally {
      api.secrets.delete(`${NS}/tier4-client-progres`);
      api.secrets.delete(`${NS}/tier4-client-dtp`);
    }
  });

  test('a cluster that cannot be reached is a note, not a failure of the site', async () => {
    const config = await certsConfig(
      {
        host: SNI_HOST,
        port: servers.good.port,
        connectAddress: '127.0.0.1',
        caFile,
        clients: { store: { type: 'kubernetes-secret' } },
      },
      { kubernetes: { namespace: NS, context: 'fake-context' } },
    );
    const report = await certificateStatus(config.loaded, 'web', { kubeconfig: join(caFile, 'missing') });
    expect(report.status).toBe('ok');
    expect(report.notes).toHaveLength(2);
    expect(report.notes[1]).toMatch(/^client certificates could not be listed: .+/);
  });
});

describe('the stored pair in Kubernetes', () => {
  const secret = { type: 'kubernetes-secret', secret: 'primero-tls' };

  test('the Secret is the stored copy; a missing Secret fails it', async () => {
    api.secrets.set(`${NS}/primero-tls`, tlsSecret(NS, 'primero-tls', good));
    const report = await status(servers.good, { source: secret }, { kube: true });
    expect(stored(report)).toMatchObject({
      location: `Secret ${NS}/primero-tls`,
      status: 'ok',
      findings: [],
    });
    api.secrets.delete(`${NS}/primero-tls`);
    const missing = await status(servers.good, { source: secret }, { kube: true });
    expect(stored(missing)).toMatchObject({
      location: `Secret ${NS}/primero-tls`,
      status: 'fail',
      info: null,
      findings: [{ level: 'fail', message: `Secret ${NS}/primero-tls does not exist` }],
    });
  });

  test('cert-manager: a missing Certificate, one not Ready (with and without a reason), a Ready one', async () => {
    const managed = { type: 'cert-manager', secret: 'primero-tls', certificate: 'primero' };
    api.secrets.set(`${NS}/primero-tls`, tlsSecret(NS, 'primero-tls', good));
    const condition = (conditions: Array<Record<string, string>>) =>
      api.certificates.set(`${NS}/primero`, {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: 'primero', namespace: NS, generation: 1 },
        status: { conditions, revision: 3 },
      });
    try {
      const absent = await status(servers.good, { source: managed }, { kube: true });
      expect(stored(absent).findings).toEqual([
        { level: 'fail', message: `cert-manager Certificate ${NS}/primero does not exist` },
      ]);
      expect([stored(absent).status, absent.status, absent.certManager]).toEqual(['fail', 'fail', null]);

      condition([{ type: 'Ready', status: 'False', reason: 'Failed', message: 'ACME order failed' }]);
      const failed = await status(servers.good, { source: managed }, { kube: true });
      expect(stored(failed).findings).toEqual([
        {
          level: 'fail',
          message: 'cert-manager Certificate primero is not Ready (Failed: ACME order failed)',
        },
      ]);
      expect(stored(failed).status).toBe('fail');

      condition([{ type: 'Ready', status: 'False' }]);
      const bare = await status(servers.good, { source: managed }, { kube: true });
      expect(stored(bare).findings).toEqual([
        { level: 'fail', message: 'cert-manager Certificate primero is not Ready (no reason)' },
      ]);

      condition([{ type: 'Ready', status: 'True', reason: 'Ready' }]);
      const ready = await status(servers.good, { source: managed }, { kube: true });
      expect([stored(ready).findings, stored(ready).status, ready.status]).toEqual([[], 'ok', 'ok']);
      expect(ready.certManager).toMatchObject({ ready: true });

      // A Ready Certificate whose Secret expires soon: the stored status stays the worst of its findings.
      const soon = await status(
        servers.good,
        { source: managed },
        { kube: true, now: new Date(notAfter(good) - 5 * DAY - 1000) },
      );
      expect([stored(soon).status, stored(soon).findings]).toEqual([
        'fail',
        [{ level: 'fail', message: 'expires in 5 days (fail under 14)' }],
      ]);
    } finally {
      api.secrets.delete(`${NS}/primero-tls`);
      api.certificates.delete(`${NS}/primero`);
    }
  });

  test('a cluster that cannot be reached fails the stored copy with the reason', async () => {
    const config = await certsConfig(
      { host: SNI_HOST, port: servers.good.port, connectAddress: '127.0.0.1', caFile, source: secret },
      { kubernetes: { namespace: NS, context: 'fake-context' } },
    );
    const report = await certificateStatus(config.loaded, 'web', { kubeconfig: join(caFile, 'missing') });
    expect(stored(report)).toMatchObject({
      location: `Secret ${NS}/primero-tls`,
      status: 'fail',
      info: null,
    });
    expect(stored(report).findings).toHaveLength(1);
    expect(stored(report).findings[0]!.message).toMatch(/.+/);
    expect(report.status).toBe('fail');
  });
});

describe('certificateHealth (doctor)', () => {
  test('one line per certificate: days left and the date, or the findings', async () => {
    const config = await certsConfig({
      host: SNI_HOST,
      port: servers.good.port,
      connectAddress: '127.0.0.1',
      caFile,
      source: await storedFiles(good),
    });
    const health = await certificateHealth(config.loaded, 'web');
    const days = Math.floor((notAfter(good) - Date.now()) / DAY);
    const until = new Date(notAfter(good)).toISOString();
    expect(health).toEqual([
      {
        certificate: SNI_HOST,
        where: 'served',
        daysLeft: days,
        notAfter: until,
        status: 'ok',
        message: `${days} days left (until ${until.slice(0, 10)})`,
        servedMatchesStored: true,
      },
      {
        certificate: SNI_HOST,
        where: 'stored',
        daysLeft: days,
        notAfter: until,
        status: 'ok',
        message: `${days} days left (until ${until.slice(0, 10)})`,
      },
    ]);
  });

  test('an unreachable server: no days, the reason as the message, no comparison', async () => {
    const port = await freePort();
    const config = await certsConfig({ host: SNI_HOST, port, connectAddress: '127.0.0.1', caFile });
    const health = await certificateHealth(config.loaded, 'web');
    expect(health).toEqual([
      {
        certificate: SNI_HOST,
        where: 'served',
        daysLeft: null,
        notAfter: null,
        status: 'fail',
        message: `Cannot complete a TLS handshake with ${SNI_HOST}:${port} (via 127.0.0.1): connect ECONNREFUSED 127.0.0.1:${port}`,
      },
    ]);
  });

  test('several findings are joined', async () => {
    const config = await certsConfig({
      host: SNI_HOST,
      port: servers.selfSigned.port,
      connectAddress: '127.0.0.1',
      caFile,
      altNames: ['www.primero.test'],
    });
    const [line] = await certificateHealth(config.loaded, 'web');
    expect(line!.message).toBe(
      'does not cover www.primero.test; chain not trusted: the chain ends at the self-signed "CN=primero.test", which is not a trusted CA (set tls.caFile for a private CA)',
    );
  });
});
