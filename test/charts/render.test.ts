import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments, parseDocument } from 'yaml';
import type { KubeObject } from '../../charts/primero/common.js';
import { checkPolicies } from '../../charts/primero/policy.js';
import { checkSchemas } from '../../charts/primero/schema-check.js';
import { REPO_ROOT, tier4 } from '../support/cli.js';
import { testSecret } from '../support/secrets.js';

// biome-ignore lint/suspicious/noExplicitAny: tests inspect and mutate manifests freely
type Any = any;

const EXAMPLE = join(REPO_ROOT, 'examples', 'tier4.example.yaml');

async function renderWithCli(
  site: string,
  args: string[] = [],
  config = EXAMPLE,
  env: NodeJS.ProcessEnv = {},
) {
  const out = await mkdtemp(join(tmpdir(), `tier4-render-${site}-`));
  const result = await tier4(['site', 'render', site, '-c', config, '--out', out, ...args], { env });
  return { out, result };
}

async function readObjects(dir: string): Promise<{ files: string[]; objects: KubeObject[] }> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.yaml')).sort();
  const objects: KubeObject[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      objects.push(doc.toJS() as KubeObject);
    }
  }
  return { files, objects };
}

async function exampleWith(edit: (doc: ReturnType<typeof parseDocument>) => void): Promise<string> {
  const doc = parseDocument(await readFile(EXAMPLE, 'utf8'));
  edit(doc);
  const dir = await mkdtemp(join(tmpdir(), 'tier4-k8s-config-'));
  const file = join(dir, 'tier4.yaml');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(file, doc.toString());
  return file;
}

const kinds = (objects: KubeObject[]) => objects.map((object) => `${object.kind}/${object.metadata.name}`);

describe('tier4 site render, on the shipped example', () => {
  test.each(['production', 'demo'])('%s renders, passes every policy rule and validates', async (site) => {
    const { out, result } = await renderWithCli(site);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Every manifest passes the policy rules and the Kubernetes schemas.');
    const { files, objects } = await readObjects(out);
    expect(files).toHaveLength(site === 'production' ? 6 : 5);
    expect(files[0]).toBe('00-namespace.yaml');
    for (const file of files) {
      // Plain YAML for kubectl and GitOps tools: no anchors or aliases.
      expect(await readFile(join(out, file), 'utf8')).not.toMatch(/: [&*]a\d+\s*$/m);
    }
    // Re-check what was written, independently of the command's own verdict.
    expect(checkPolicies(objects, { drillIdentitySecret: 'tier4-drill-identity' })).toEqual([]);
    expect(await checkSchemas(objects)).toEqual([]);
    const names = kinds(objects);
    for (const expected of [
      'Namespace/primero',
      'Deployment/primero-application',
      'Deployment/primero-worker',
      'Deployment/primero-nginx',
      'Job/primero-migrate-v2-15-2',
      'NetworkPolicy/default-deny',
      'CronJob/tier4-backup',
      'CronJob/tier4-doctor',
    ]) {
      expect(names).toContain(expected);
    }
  });

  test('production: CloudNativePG with 3 instances and WAL archiving, RWX attachments, drill with identity', async () => {
    const { out } = await renderWithCli('production');
    const { files, objects } = await readObjects(out);
    expect(files).toEqual([
      '00-namespace.yaml',
      '10-database.yaml',
      '20-config.yaml',
      '30-migrate-job.yaml',
      '40-workload.yaml',
      '50-ops-cronjobs.yaml',
    ]);
    const cluster = objects.find((object) => object.kind === 'Cluster') as Any;
    expect(cluster.spec.instances).toBe(3);
    expect(cluster.spec.plugins[0]).toMatchObject({
      isWALArchiver: true,
      parameters: { barmanObjectName: 'primero-db-store' },
    });
    const store = objects.find((object) => object.kind === 'ObjectStore') as Any;
    expect(store.spec.configuration.destinationPath).toBe('s3://tier4-backups/production/cnpg-wal');
    const pvc = objects.find((object) => object.metadata.name === 'primero-attachments') as Any;
    expect(pvc.spec.accessModes).toEqual(['ReadWriteMany']);
    expect(pvc.spec.storageClassName).toBe('nfs-rwx');
    const config = objects.find((object) => object.metadata.name === 'primero-config') as Any;
    expect(config.data).toMatchObject({
      PRIMERO_HOST: 'primero.example.org',
      POSTGRES_HOSTNAME: 'primero-db-rw.primero.svc',
      POSTGRES_SSL_MODE: 'verify-full',
      PRIMERO_STORAGE_TYPE: 'local',
      SOLR_ENABLED: 'false',
    });
    const backup = objects.find(
      (object) => object.kind === 'CronJob' && object.metadata.name === 'tier4-backup',
    ) as Any;
    expect(backup.spec.schedule).toBe('15 1 * * *');
    expect(backup.spec.jobTemplate.spec.template.spec.containers[0].args).toEqual([
      'backup',
      'create',
      '--site',
      'production',
      '--json',
    ]);
    const drill = objects.find(
      (object) => object.kind === 'CronJob' && object.metadata.name === 'tier4-drill',
    ) as Any;
    expect(drill.spec.schedule).toBe('0 3 * * 0'); // weekly by default
    expect(drill.spec.jobTemplate.spec.template.spec.containers[0].args).toEqual([
      'drill',
      '--site',
      'production',
      '--report-dir',
      '/reports',
    ]);
    expect(JSON.stringify(drill)).toContain('tier4-drill-identity');
    // Each secret reference in tier4.yaml is satisfied by a Secret key, at the same variable or path.
    const backupPod = backup.spec.jobTemplate.spec.template.spec;
    expect(backupPod.containers[0].env).toContainEqual({
      name: 'PROD_BACKUP_SECRET_ACCESS_KEY',
      valueFrom: { secretKeyRef: { name: 'tier4-ops-env', key: 'PROD_BACKUP_SECRET_ACCESS_KEY' } },
    });
    const dbPasswordMount = backupPod.containers[0].volumeMounts.find(
      (mount: { mountPath: string }) => mount.mountPath === '/var/run/secrets/tier4',
    );
    const dbPasswordVolume = backupPod.volumes.find(
      (volume: { name: string }) => volume.name === dbPasswordMount.name,
    );
    expect(dbPasswordVolume.projected.sources).toEqual([
      { secret: { name: 'primero-db-app', items: [{ key: 'password', path: 'db-password' }] } },
    ]);
    const drillPod = drill.spec.jobTemplate.spec.template.spec;
    expect(JSON.stringify(drillPod.volumes)).toContain(
      '{"secret":{"name":"tier4-drill-identity","items":[{"key":"age-identity.txt","path":"age-identity.txt"}]}}',
    );
    expect(
      drillPod.containers[0].volumeMounts.map((mount: { mountPath: string }) => mount.mountPath),
    ).toContain('/var/run/secrets/tier4-drill');
    const doctor = objects.find(
      (object) => object.kind === 'CronJob' && object.metadata.name === 'tier4-doctor',
    ) as Any;
    expect(JSON.stringify(doctor)).not.toContain('tier4-drill-identity');
    expect(JSON.stringify(backup)).not.toContain('tier4-drill-identity');
    const ns = objects.find((object) => object.kind === 'Namespace')!;
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  test('demo: external PostgreSQL with its CA, Azure blob attachments, ACME over Azure DNS, promotion to production', async () => {
    const { out } = await renderWithCli('demo');
    const { files, objects } = await readObjects(out);
    expect(files).not.toContain('10-database.yaml');
    const config = objects.find((object) => object.metadata.name === 'primero-config') as Any;
    expect(config.data).toMatchObject({
      PRIMERO_STORAGE_TYPE: 'microsoft',
      PRIMERO_STORAGE_AZ_ACCOUNT: 'stexamplecpdemo',
      PRIMERO_PROMOTE_CONFIG_PROD_HOST: 'primero.example.org',
      PRIMERO_PROMOTE_CONFIG_PROD_PORT: '443',
      PRIMERO_PROMOTE_CONFIG_PROD_TLS: 'true',
      PGSSLROOTCERT: '/etc/primero/db-ca/ca.crt',
    });
    // Azure DNS with workload identity: a ClusterIssuer (cert-manager refuses ambient credentials to Issuers).
    const issuer = objects.find((object) => object.kind === 'ClusterIssuer') as Any;
    expect(issuer.metadata.namespace).toBeUndefined();
    expect(issuer.spec.acme.solvers[0].dns01.azureDNS).toMatchObject({
      hostedZoneName: 'primero.example.org',
      managedIdentity: { clientID: '00000000-0000-0000-0000-0000000000c1' },
    });
    const certificate = objects.find((object) => object.kind === 'Certificate') as Any;
    expect(certificate.spec).toMatchObject({
      secretName: 'primero-tls',
      dnsNames: ['demo.primero.example.org'],
    });
    // Demo's backups have no identity in tier4.yaml, so there is no drill job there.
    expect(kinds(objects)).not.toContain('CronJob/tier4-drill');
  });

  test('the migration Job comes before the Deployments, and the app waits for it', async () => {
    const { out } = await renderWithCli('production', ['--first-install']);
    const { objects } = await readObjects(out);
    const order = kinds(objects);
    expect(order.indexOf('Job/primero-migrate-v2-15-2')).toBeLessThan(
      order.indexOf('Deployment/primero-application'),
    );
    const job = objects.find((object) => object.kind === 'Job') as Any;
    expect(job.spec.template.spec.containers[0].args).toEqual(['primero-bootstrap']);
    // Rails rewrites db/schema.rb after migrating: with a read-only image, db/ must be a writable copy.
    expect(job.spec.template.spec.containers[0].volumeMounts).toContainEqual({
      name: 'db',
      mountPath: '/srv/primero/application/db',
    });
    const app = objects.find(
      (object) => object.metadata.name === 'primero-application' && object.kind === 'Deployment',
    ) as Any;
    expect(app.spec.template.spec.initContainers.map((c: { name: string }) => c.name)).toContain(
      'wait-for-migrations',
    );
  });

  test('no secret value ever reaches a manifest, even when it is set in the environment', async () => {
    const secret = testSecret('k8s-render');
    const { out, result } = await renderWithCli('production', [], EXAMPLE, {
      PROD_PRIMERO_PASSWORD: secret,
      PROD_BACKUP_SECRET_ACCESS_KEY: secret,
    });
    expect(result.code).toBe(0);
    const written = await readdir(out);
    expect(written).toHaveLength(6);
    for (const file of written) expect(await readFile(join(out, file), 'utf8')).not.toContain(secret);
  });

  test('--json gives one document with files, findings and the Secrets to create', async () => {
    const out = await mkdtemp(join(tmpdir(), 'tier4-render-json-'));
    const result = await tier4(['--json', 'site', 'render', 'production', '-c', EXAMPLE, '--out', out]);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.findings).toEqual([]);
    expect(doc.files).toHaveLength(6);
    expect(doc.secrets.map((secret: { secret: string }) => secret.secret)).toContain('tier4-drill-identity');
    // CloudNativePG creates the database Secrets itself; they are not on the operator's list.
    expect(doc.secrets.map((secret: { secret: string }) => secret.secret)).not.toContain('primero-db-app');
  });
});

describe('configurations the chart refuses, before writing anything', () => {
  test('an unknown site', async () => {
    const { result } = await renderWithCli('staging');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('No site named "staging"');
  });

  test('TLS from files (a VM install) on Kubernetes', async () => {
    const file = await exampleWith((doc) =>
      doc.setIn(['sites', 'production', 'tls', 'source'], { type: 'files', cert: '/c.pem', key: '/k.pem' }),
    );
    const { result } = await renderWithCli('production', [], file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('tls.source is "files"');
  });

  test('ACME with no way to answer the challenge', async () => {
    const file = await exampleWith((doc) => {
      doc.setIn(['sites', 'production', 'tls', 'source'], {
        type: 'cert-manager',
        issuer: { kind: 'acme', email: 'ops@example.org' },
      });
    });
    const { result } = await renderWithCli('production', [], file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no way to answer the challenge');
  });

  test('verify-full against an external server (not Azure, whose roots are known) without its CA', async () => {
    const file = await exampleWith((doc) => {
      doc.deleteIn(['sites', 'demo', 'kubernetes', 'postgres', 'caSecret']);
      doc.setIn(
        ['sites', 'demo', 'database', 'url'],
        'postgres://primero@db.example.org:5432/primero_production?sslmode=verify-full',
      );
    });
    const { result } = await renderWithCli('demo', [], file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('kubernetes.postgres.caSecret is not set');
  });

  test('two secret files with the same name in different folders', async () => {
    const file = await exampleWith((doc) =>
      doc.setIn(['sites', 'production', 'primero', 'auth', 'password'], { file: '/etc/other/db-password' }),
    );
    const { result } = await renderWithCli('production', [], file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Two secret files share the name db-password');
  });

  test('promotion by database transfer: demo gets no PRIMERO_PROMOTE_CONFIG_PROD_* and no egress for it', async () => {
    const file = await exampleWith((doc) => doc.setIn(['promotion', 'transfer'], 'database'));
    const { out, result } = await renderWithCli('demo', [], file);
    expect(result.code).toBe(0);
    const text = (await readObjects(out)).objects
      .filter((object) => object.metadata.name !== 'tier4-config') // tier4.yaml itself, comments included
      .map((object) => JSON.stringify(object))
      .join('\n');
    expect(text).not.toContain('PRIMERO_PROMOTE_CONFIG_PROD');
  });

  test('an unpinned ops image', async () => {
    const file = await exampleWith((doc) =>
      doc.setIn(['sites', 'production', 'kubernetes', 'opsImage'], 'ghcr.io/primero-tier4/tier4:latest'),
    );
    const { result } = await renderWithCli('production', [], file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('images.ops: must be pinned');
  });
});

describe('options the site configuration turns on', () => {
  test('Solr, a Gateway API route with ACME over HTTP-01, NodePort exposure', async () => {
    const file = await exampleWith((doc) => {
      doc.setIn(['sites', 'production', 'primero', 'solr'], true);
      doc.setIn(['sites', 'production', 'kubernetes', 'exposure'], {
        type: 'NodePort',
        nodePort: 30443,
        gateway: 'gateway-system/public',
      });
      doc.setIn(['sites', 'production', 'tls', 'source'], {
        type: 'cert-manager',
        issuer: { kind: 'acme', email: 'ops@example.org' },
      });
      doc.setIn(['sites', 'production', 'tls', 'altNames'], ['cases.example.org']);
    });
    const { out, result } = await renderWithCli('production', [], file);
    expect(result.stdout + result.stderr).toContain('Every manifest passes');
    expect(result.code).toBe(0);
    const { objects } = await readObjects(out);
    expect(kinds(objects)).toEqual(
      expect.arrayContaining([
        'StatefulSet/primero-solr',
        'Service/primero-solr',
        'HTTPRoute/primero',
        'PodDisruptionBudget/primero-solr',
      ]),
    );
    const config = objects.find((object) => object.metadata.name === 'primero-config') as Any;
    expect(config.data).toMatchObject({ SOLR_ENABLED: 'true', SOLR_HOSTNAME: 'primero-solr' });
    const service = objects.find(
      (object) => object.kind === 'Service' && object.metadata.name === 'primero-nginx',
    ) as Any;
    expect(service.spec.type).toBe('NodePort');
    expect(service.spec.ports[1].nodePort).toBe(30443);
    const issuer = objects.find((object) => object.kind === 'Issuer') as Any;
    const certificate = objects.find((object) => object.kind === 'Certificate') as Any;
    expect(certificate.spec.dnsNames).toEqual(['primero.example.org', 'cases.example.org']);
    expect(issuer.spec.acme.solvers[0].http01.gatewayHTTPRoute.parentRefs[0]).toMatchObject({
      namespace: 'gateway-system',
      name: 'public',
    });
    expect(await checkSchemas(objects)).toEqual([]);
  });
});
