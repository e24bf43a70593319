import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../core/config/load.js';
import { REPO_ROOT } from '../support/cli.js';

// biome-ignore lint/suspicious/noExplicitAny: tests inspect and mutate manifests freely
type Any = any;

/**
 * The Pulumi program under Pulumi's own mocks: no engine and no cluster. setMocks must run before the
 * program module (and @pulumi/kubernetes) is imported, hence the dynamic import below.
 */

interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, Any>;
}

const recorded: Recorded[] = [];
let deploySite: typeof import('../../stacks/production/program.js').deploySite;

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call(args) {
        return args.inputs;
      },
    },
    'tier4-site',
    'test',
    false,
  );
  ({ deploySite } = await import('../../stacks/production/program.js'));
});

const EXAMPLE = join(REPO_ROOT, 'examples', 'tier4.example.yaml');

async function deploy(
  site: string,
): Promise<{ resources: Recorded[]; names: string[]; dependsOn: Record<string, string[]> }> {
  const start = recorded.length;
  const loaded = loadConfig(EXAMPLE);
  const result = deploySite({
    config: loaded.config,
    siteName: site,
    configText: readFileSync(EXAMPLE, 'utf8'),
  });
  // Resources register asynchronously; wait until every one (plus the provider) has reached the mocks.
  const deadline = Date.now() + 10_000;
  while (recorded.length - start < result.resources.length + 1 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { resources: recorded.slice(start), names: result.resources, dependsOn: result.dependsOn };
}

function ofType(resources: Recorded[], type: string): Recorded[] {
  return resources.filter((resource) => resource.type === type);
}

describe('the production site under Pulumi mocks', () => {
  let resources: Recorded[];
  let dependsOn: Record<string, string[]>;
  beforeAll(async () => {
    ({ resources, dependsOn } = await deploy('production'));
  });

  test('the migration Job waits for the database and configuration; the Deployments wait for the Job', () => {
    expect(dependsOn['Job/primero-migrate-v2-15-2']).toEqual(
      expect.arrayContaining(['Cluster/primero-db', 'ConfigMap/primero-config', 'Namespace/primero']),
    );
    for (const deployment of ['primero-application', 'primero-worker', 'primero-nginx']) {
      expect(dependsOn[`Deployment/${deployment}`]).toContain('Job/primero-migrate-v2-15-2');
    }
    expect(dependsOn['CronJob/tier4-backup']).toContain('ConfigMap/tier4-config');
    expect(dependsOn['CronJob/tier4-backup']).not.toContain('Job/primero-migrate-v2-15-2');
  });

  test('Pulumi waits for each CloudNativePG Cluster to be Ready before what depends on it (#14 item 10)', () => {
    const clusters = ofType(resources, 'kubernetes:postgresql.cnpg.io/v1:Cluster');
    expect(clusters.map((cluster) => cluster.inputs.metadata.name).sort()).toEqual([
      'primero-db',
      'primero-db-drill',
    ]);
    for (const cluster of clusters) {
      expect(cluster.inputs.metadata.annotations['pulumi.com/waitFor']).toBe('condition=Ready');
    }
    expect(dependsOn['Job/primero-migrate-v2-15-2']).toContain('Cluster/primero-db');
  });

  test("a provider on the site's kubeconfig context, with server-side apply", () => {
    const [provider] = ofType(resources, 'pulumi:providers:kubernetes');
    expect(provider?.inputs).toMatchObject({ context: 'prod-cluster' });
    expect(String(provider?.inputs.enableServerSideApply)).toBe('true');
  });

  test('the namespace, labelled for Pod Security restricted', () => {
    const [namespace] = ofType(resources, 'kubernetes:core/v1:Namespace');
    expect(namespace?.inputs.metadata.name).toBe('primero');
    expect(namespace?.inputs.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  test('a CloudNativePG Cluster of 3 instances with WAL archiving, and scheduled base backups', () => {
    const cluster = ofType(resources, 'kubernetes:postgresql.cnpg.io/v1:Cluster').find(
      (resource) => resource.inputs.metadata.name === 'primero-db',
    );
    expect(cluster?.inputs.spec.instances).toBe(3);
    expect(cluster?.inputs.spec.storage.size).toBe('100Gi');
    expect(cluster?.inputs.spec.plugins[0].isWALArchiver).toBe(true);
    expect(ofType(resources, 'kubernetes:barmancloud.cnpg.io/v1:ObjectStore')).toHaveLength(1);
    expect(ofType(resources, 'kubernetes:postgresql.cnpg.io/v1:ScheduledBackup')).toHaveLength(1);
  });

  test("Primero's workload: application, worker, nginx, the migration Job, Services and PDBs", () => {
    const deployments = ofType(resources, 'kubernetes:apps/v1:Deployment').map((r) => r.inputs.metadata.name);
    expect(deployments.sort()).toEqual([
      'primero-application',
      'primero-nginx',
      'primero-worker',
      'tier4-exporter',
    ]);
    const [job] = ofType(resources, 'kubernetes:batch/v1:Job');
    expect(job?.inputs.metadata.name).toBe('primero-migrate-v2-15-2');

    expect(ofType(resources, 'kubernetes:policy/v1:PodDisruptionBudget')).toHaveLength(4);
    // Monitoring (charts/primero/monitoring.ts): the operator's custom resources go through Pulumi too.
    expect(ofType(resources, 'kubernetes:monitoring.coreos.com/v1:ServiceMonitor')).toHaveLength(1);
    expect(ofType(resources, 'kubernetes:monitoring.coreos.com/v1:PrometheusRule')).toHaveLength(1);
    const nginx = ofType(resources, 'kubernetes:core/v1:Service').find(
      (r) => r.inputs.metadata.name === 'primero-nginx',
    );
    expect(nginx?.inputs.spec.type).toBe('LoadBalancer');
  });

  test('the ops CronJobs: backup on the configured schedule, a weekly drill, the doctor', () => {
    const cronJobs = Object.fromEntries(
      ofType(resources, 'kubernetes:batch/v1:CronJob').map((r) => [r.inputs.metadata.name, r.inputs.spec]),
    );
    expect(Object.keys(cronJobs).sort()).toEqual(['tier4-backup', 'tier4-doctor', 'tier4-drill']);
    expect(cronJobs['tier4-backup'].schedule).toBe('15 1 * * *');
    expect(cronJobs['tier4-drill'].schedule).toBe('0 3 * * 0');
    for (const spec of Object.values(cronJobs) as Any[]) expect(spec.concurrencyPolicy).toBe('Forbid');
  });

  test('the attachments volume is ReadWriteMany', () => {
    const claim = ofType(resources, 'kubernetes:core/v1:PersistentVolumeClaim').find(
      (r) => r.inputs.metadata.name === 'primero-attachments',
    );
    expect(claim?.inputs.spec.accessModes).toEqual(['ReadWriteMany']);
  });

  test("no TLS resources: production uses the partner's Secret", () => {
    expect(ofType(resources, 'kubernetes:cert-manager.io/v1:Certificate')).toHaveLength(0);
  });
});

describe('the demo site under Pulumi mocks (same program, Azure values)', () => {
  let resources: Recorded[];
  beforeAll(async () => {
    ({ resources } = await deploy('demo'));
  });

  test("no CloudNativePG: the database is Azure's", () => {
    expect(ofType(resources, 'kubernetes:postgresql.cnpg.io/v1:Cluster')).toHaveLength(0);
    const config = ofType(resources, 'kubernetes:core/v1:ConfigMap').find(
      (r) => r.inputs.metadata.name === 'primero-config',
    );
    expect(config?.inputs.data.POSTGRES_HOSTNAME).toBe('psql-example-cp-demo.postgres.database.azure.com');
    expect(config?.inputs.data.PRIMERO_STORAGE_TYPE).toBe('microsoft');
  });

  test('cert-manager issues the certificate', () => {
    // Azure DNS with workload identity needs a ClusterIssuer (ambient credentials; docs/azure-demo.md).
    expect(ofType(resources, 'kubernetes:cert-manager.io/v1:ClusterIssuer')).toHaveLength(1);
    const [certificate] = ofType(resources, 'kubernetes:cert-manager.io/v1:Certificate');
    expect(certificate?.inputs.spec.dnsNames).toEqual(['demo.primero.example.org']);
    expect(certificate?.inputs.spec.issuerRef).toMatchObject({ kind: 'ClusterIssuer' });
  });

  test('one replica of each, as configured', () => {
    for (const deployment of ofType(resources, 'kubernetes:apps/v1:Deployment')) {
      expect(deployment.inputs.spec.replicas).toBe(1);
    }
  });
});
