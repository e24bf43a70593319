import { describe, expect, test } from 'vitest';
import { CNPG_POSTGRES_IMAGE } from '../../core/config/kubernetes.js';
import { loadConfig } from '../../core/config/load.js';
import { tier4 } from '../support/cli.js';
import { withOwnRecipients } from '../support/example.js';
import { type Any, cronJob, exampleFile, podOf, render } from '../support/rendered-site.js';

const exampleConfigFrom = (file: string) => loadConfig(file).config;

/**
 * #14 items 2, 8 and 11: what `tier4 config validate` and `tier4 site render` refuse because it cannot exist in
 * the pods, the drills' scratch server, and the PostgreSQL image.
 */

async function validateAndRender(file: string, site: string) {
  const validate = await tier4(['config', 'validate', '-c', file]);
  const render = await tier4(['site', 'render', site, '-c', file, '--out', `${file}.out`]);
  return { validate, render };
}

describe('validate runs the checks of render; both refuse what cannot exist in a pod (item 11)', () => {
  test.each([
    [
      'tls.source files on a Kubernetes site',
      (doc: Any) =>
        doc.setIn(['sites', 'production', 'tls', 'source'], {
          type: 'files',
          cert: '/etc/primero/tls.crt',
          key: '/etc/primero/tls.key',
        }),
      'sites.production.tls.source',
    ],
    [
      'a file:///tmp repository',
      (doc: Any) => {
        doc.setIn(['sites', 'production', 'backups', 'repository'], 'file:///tmp/tier4-backups');
        doc.deleteIn(['sites', 'production', 'backups', 's3']);
      },
      'sites.production.backups.repository',
    ],
    [
      'attachments under /tmp',
      (doc: Any) => doc.setIn(['sites', 'production', 'attachments', 'path'], '/tmp/primero-storage'),
      'sites.production.attachments.path',
    ],
    [
      'a 127.0.0.1 database for in-cluster jobs',
      (doc: Any) =>
        doc.setIn(
          ['sites', 'production', 'database', 'url'],
          'postgres://primero@127.0.0.1:5432/primero_production?sslmode=verify-full',
        ),
      'sites.production.database.url',
    ],
    [
      'a production site on Kubernetes without drills.server (item 2)',
      (doc: Any) => doc.deleteIn(['sites', 'production', 'drills', 'server']),
      'sites.production.drills.server',
    ],
  ])('%s', async (_name, edit, field) => {
    const file = exampleFile(edit);
    const { validate, render } = await validateAndRender(file, 'production');
    for (const result of [validate, render]) {
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(field);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  test('the shipped example validates and renders', async () => {
    const { validate } = await validateAndRender(exampleFile(withOwnRecipients), 'production');
    expect(validate.stderr).not.toContain('error:');
    expect(validate.code).toBe(0);
  });
});

describe("the drills' scratch server (item 2)", () => {
  test('a one-instance CloudNativePG cluster with its own storage and a superuser, reached by the drill job only', () => {
    const objects = render('production');
    const scratch: Any = objects.find(
      (object) => object.kind === 'Cluster' && object.metadata.name === 'primero-db-drill',
    );
    expect(scratch.spec).toMatchObject({
      instances: 1,
      enableSuperuserAccess: true,
      storage: { size: '50Gi' },
    });
    expect(scratch.spec.plugins).toBeUndefined(); // throwaway copies: no WAL archive
    const drill = podOf(cronJob(objects, 'tier4-drill'));
    const container = drill.containers[0];
    // drills.password {file: /var/run/secrets/tier4-drill-db/password} from CNPG's <cluster>-superuser Secret.
    const passwordMount = (container.volumeMounts as Any[]).find(
      (mount) => mount.mountPath === '/var/run/secrets/tier4-drill-db',
    );
    const passwordVolume = (drill.volumes as Any[]).find((volume) => volume.name === passwordMount.name);
    expect(passwordVolume.projected.sources).toEqual([
      { secret: { name: 'primero-db-drill-superuser', items: [{ key: 'password', path: 'password' }] } },
    ]);
    // Its own CA, where drills.server's sslrootcert says.
    const caMount = (container.volumeMounts as Any[]).find(
      (mount) => mount.mountPath === '/etc/tier4-drill-db-ca',
    );
    expect((drill.volumes as Any[]).find((volume) => volume.name === caMount.name).secret.secretName).toBe(
      'primero-db-drill-ca',
    );
    // The backup job gets neither.
    const backup = JSON.stringify(podOf(cronJob(objects, 'tier4-backup')));
    expect(backup).not.toContain('primero-db-drill');
    const egress: Any = objects.find(
      (object) => object.kind === 'NetworkPolicy' && object.metadata.name === 'tier4-drill',
    );
    expect(egress.spec.egress[0].to).toEqual([
      { podSelector: { matchLabels: { 'cnpg.io/cluster': 'primero-db-drill' } } },
    ]);
  });
});

describe('the CloudNativePG image (item 8)', () => {
  test('a current standard-trixie PostgreSQL 15 image, pinned by digest, for both clusters', () => {
    expect(CNPG_POSTGRES_IMAGE).toMatch(/postgresql:15\.\d+-\d+-standard-trixie@sha256:[0-9a-f]{64}$/);
    const clusters = render('production').filter((object) => object.kind === 'Cluster') as Any[];
    expect(clusters.map((cluster) => cluster.spec.imageName)).toEqual([
      CNPG_POSTGRES_IMAGE,
      CNPG_POSTGRES_IMAGE,
    ]);
  });

  test('the deprecated system tag, or a tag without digest, is refused naming the setting', async () => {
    for (const image of [
      'ghcr.io/cloudnative-pg/postgresql:15.14',
      'ghcr.io/cloudnative-pg/postgresql:15.19-standard-trixie',
    ]) {
      const file = exampleFile((doc) =>
        doc.setIn(['sites', 'production', 'kubernetes', 'postgres', 'imageName'], image),
      );
      const result = await tier4(['config', 'validate', '-c', file]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('imageName');
      expect(result.stderr).toContain('pinned by digest');
    }
  });
});

describe('through a Gateway (item 10)', () => {
  test('a BackendTLSPolicy makes the Gateway speak HTTPS to nginx, with the SNI nginx needs', () => {
    const config = exampleFile((doc) =>
      doc.setIn(['sites', 'production', 'kubernetes', 'exposure', 'gateway'], 'gateway-system/public'),
    );
    const objects = render('production', exampleConfigFrom(config));
    const route: Any = objects.find((object) => object.kind === 'HTTPRoute');
    expect(route.spec.rules[0].backendRefs[0]).toMatchObject({ name: 'primero-nginx', port: 443 });
    const policy: Any = objects.find((object) => object.kind === 'BackendTLSPolicy');
    expect(policy.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(policy.metadata.namespace).toBe(route.metadata.namespace);
    expect(policy.spec.targetRefs).toEqual([
      { group: '', kind: 'Service', name: 'primero-nginx', sectionName: 'https' },
    ]);
    expect(policy.spec.validation).toEqual({
      hostname: 'primero.example.org',
      wellKnownCACertificates: 'System',
    });
    const service: Any = objects.find(
      (object) => object.kind === 'Service' && object.metadata.name === 'primero-nginx',
    );
    expect(service.spec.ports.map((port: Any) => port.name)).toContain('https');
  });
});

describe('the migration Job waits for the database (item 10)', () => {
  test('an init container polls the server with pg_isready before Primero migrates', () => {
    const objects = render('production');
    const job: Any = objects.find((object) => object.kind === 'Job');
    const [wait] = job.spec.template.spec.initContainers;
    expect(wait.name).toBe('wait-for-database');
    expect(wait.image).toBe(podOf(cronJob(objects, 'tier4-backup')).containers[0].image);
    expect(wait.command.join(' ')).toContain('pg_isready');
    expect(Object.fromEntries(wait.env.map((item: Any) => [item.name, item.value]))).toMatchObject({
      PGHOST: 'primero-db-rw.primero.svc',
      PGPORT: '5432',
    });
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0); // bounds the wait
  });
});
