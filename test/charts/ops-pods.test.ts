import { describe, expect, test } from 'vitest';
import { SERVICE_ACCOUNT_DIR } from '../../core/kubernetes/index.js';
import { type Any, cronJob, envNames, exampleConfig, podOf, render } from '../support/rendered-site.js';

/**
 * "Think in the pod": for each ops job, what identity, CA, Secret, volume and network path it gets inside the
 * cluster, read from the rendered objects.
 */

describe('the doctor job (#14 item 7)', () => {
  const expectedRules: Record<string, unknown[]> = {
    // Production keeps its certificate in a Secret and client certificates as Secrets (listed by label).
    production: [
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['primero-tls'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['list'] },
    ],
    // Demo's certificate comes from cert-manager.
    demo: [
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: ['primero-tls'] },
      {
        apiGroups: ['cert-manager.io'],
        resources: ['certificates'],
        verbs: ['get'],
        resourceNames: ['primero'],
      },
    ],
  };
  test.each(['production', 'demo'])(
    '%s: only the doctor gets API credentials, bound to a Role that reads only its certificate objects',
    (site) => {
      const objects = render(site);
      const doctor = podOf(cronJob(objects, 'tier4-doctor'));
      const tokenVolume = doctor.volumes.find((volume: Any) =>
        volume.projected?.sources?.some((source: Any) => source.serviceAccountToken),
      );
      expect(doctor.serviceAccountName).toBe('tier4-doctor');
      expect(doctor.automountServiceAccountToken).toBe(false);
      expect(tokenVolume).toBeDefined();
      expect(doctor.containers[0].volumeMounts).toContainEqual({
        name: tokenVolume.name,
        mountPath: SERVICE_ACCOUNT_DIR,
        readOnly: true,
      });
      for (const name of ['tier4-backup', 'tier4-drill']) {
        const other = objects.find((object) => object.kind === 'CronJob' && object.metadata.name === name);
        if (other) expect(JSON.stringify(podOf(other))).not.toContain('serviceAccountToken');
      }
      const roles = objects.filter((object) => object.kind === 'Role');
      expect(roles.map((role) => role.metadata.name)).toEqual(['tier4-doctor']);
      expect((roles[0] as Any).rules).toEqual(expectedRules[site]);
      const binding: Any = objects.find((object) => object.kind === 'RoleBinding');
      expect(binding.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'tier4-doctor', namespace: 'primero' },
      ]);
      expect(binding.roleRef).toEqual({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: 'tier4-doctor',
      });
      // The API server is reachable from the doctor pod only.
      const policy: Any = objects.find(
        (object) => object.kind === 'NetworkPolicy' && object.metadata.name === 'tier4-doctor',
      );
      expect(policy.spec.podSelector.matchExpressions).toEqual([
        { key: 'tier4.primero.org/job', operator: 'In', values: ['tier4-doctor', 'tier4-exporter'] },
      ]);
      expect(policy.spec.egress[0].ports).toEqual([
        { protocol: 'TCP', port: 443 },
        { protocol: 'TCP', port: 6443 },
      ]);
    },
  );

  test('a site whose certificate is not kept in the cluster: no token and no Role', () => {
    const config = exampleConfig((doc) => doc.deleteIn(['sites', 'production', 'tls', 'source']));
    (config.sites.production!.tls as Any).clients = undefined;
    const objects = render('production', config);
    expect(JSON.stringify(podOf(cronJob(objects, 'tier4-doctor')))).not.toContain('serviceAccountToken');
    expect(objects.filter((object) => object.kind === 'Role' || object.kind === 'RoleBinding')).toEqual([]);
  });

  test('the drift check gets the promotion peer credentials, in the doctor job only', () => {
    const production = render('production');
    expect(envNames(cronJob(production, 'tier4-doctor'))).toContain('DEMO_PRIMERO_PASSWORD');
    expect(envNames(cronJob(production, 'tier4-backup'))).not.toContain('DEMO_PRIMERO_PASSWORD');
    const demo = render('demo');
    expect(envNames(cronJob(demo, 'tier4-doctor'))).toContain('PROD_PRIMERO_PASSWORD');
    expect(envNames(cronJob(demo, 'tier4-backup'))).not.toContain('PROD_PRIMERO_PASSWORD');
    const fromSecret = (
      cronJob(demo, 'tier4-doctor').spec.jobTemplate.spec.template.spec.containers[0].env as Any[]
    ).find((item) => item.name === 'PROD_PRIMERO_PASSWORD');
    expect(fromSecret.valueFrom.secretKeyRef).toEqual({
      name: 'tier4-ops-env',
      key: 'PROD_PRIMERO_PASSWORD',
    });
  });
});

describe('the database CA in every pod that connects (#14 item 1)', () => {
  const jobs = ['tier4-backup', 'tier4-drill', 'tier4-doctor'];

  test("production: CloudNativePG's <cluster>-ca Secret, key ca.crt, mounted and named by PGSSLROOTCERT", () => {
    const objects = render('production');
    for (const name of jobs) {
      const pod = podOf(cronJob(objects, name));
      const container = pod.containers[0];
      const env = (container.env as Any[]).find((item) => item.name === 'PGSSLROOTCERT');
      expect(env, name).toEqual({ name: 'PGSSLROOTCERT', value: '/etc/primero/db-ca/ca.crt' });
      const mount = (container.volumeMounts as Any[]).find((item) => item.mountPath === '/etc/primero/db-ca');
      const volume = (pod.volumes as Any[]).find((item) => item.name === mount.name);
      expect(volume.secret, name).toEqual({
        secretName: 'primero-db-ca',
        items: [{ key: 'ca.crt', path: 'ca.crt' }],
      });
    }
  });

  test("demo: Azure's public roots as a ConfigMap, mounted into the ops jobs and Primero alike", async () => {
    const { X509Certificate } = await import('node:crypto');
    const objects = render('demo');
    const configMap: Any = objects.find(
      (object) => object.kind === 'ConfigMap' && object.metadata.name === 'azure-postgres-ca',
    );
    const pems = (configMap.data['ca.crt'] as string).match(
      /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
    )!;
    const subjects = pems.map((pem) => new X509Certificate(pem).subject.split('\n').at(-1));
    expect(subjects).toEqual([
      'CN=DigiCert Global Root G2',
      'CN=Microsoft RSA Root Certificate Authority 2017',
      'CN=DigiCert Global Root CA',
    ]);
    // DigiCert's published SHA-256 fingerprint of Global Root G2 (cited by Microsoft's TLS how-to).
    expect(new X509Certificate(pems[0]!).fingerprint256).toBe(
      'CB:3C:CB:B7:60:31:E5:E0:13:8F:8D:D3:9A:23:F9:DE:47:FF:C3:5E:43:C1:14:4C:EA:27:D4:6A:5A:B1:CB:5F',
    );
    const pods = [
      // Demo has no drill job (no decryption identity on a site without real data).
      ...['tier4-backup', 'tier4-doctor'].map((name) => podOf(cronJob(objects, name))),
      ...objects
        .filter(
          (object) =>
            object.kind === 'Deployment' &&
            ['primero-application', 'primero-worker'].includes(object.metadata.name),
        )
        .map((object: Any) => object.spec.template.spec),
    ];
    for (const pod of pods) {
      const volume = (pod.volumes as Any[]).find((item) => item.configMap?.name === 'azure-postgres-ca');
      expect(volume).toBeDefined();
    }
    const config: Any = objects.find((object) => object.metadata.name === 'primero-config');
    expect(config.data.PGSSLROOTCERT).toBe('/etc/primero/db-ca/ca.crt');
  });
});
