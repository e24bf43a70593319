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
      expect(policy.spec.podSelector.matchLabels['tier4.primero.org/job']).toBe('tier4-doctor');
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
