import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { KEY_VAULT_CLASS, WORKLOAD_IDENTITY } from '../../charts/primero/azure.js';
import { vaultSecretsToAdd } from '../../charts/primero/azure-values.js';
import type { KubeObject } from '../../charts/primero/index.js';
import { podTemplates } from '../../charts/primero/policy.js';
import { CERT_MANAGER_SUBJECT } from '../../core/azure-names.js';
import { loadConfig } from '../../core/config/load.js';
import { KEY_VAULT_SECRETS } from '../../stacks/azure-demo/model.js';
import type { TerraformJson } from '../../stacks/azure-demo/policy.js';
import { synthesizeAzureDemo } from '../../stacks/azure-demo/synth.js';
import { planLoadedSite, renderSiteManifests } from '../../stacks/production/render.js';
import type { SitePlan } from '../../stacks/production/site.js';
import { EXAMPLE, fixtureWith, tempDir, terraformRef } from './helpers.js';

/**
 * The demo site as a whole: what the Terraform stack creates and what `tier4 site render|deploy demo`
 * puts on the cluster must name each other. Both come from the shipped example.
 */

// biome-ignore lint/suspicious/noExplicitAny: untyped JSON under test
type Any = any;

let doc: TerraformJson;
let plan: SitePlan;
let objects: KubeObject[];

const resources = (type: string) => Object.values(doc.resource?.[type] ?? {}) as Any[];
const named = (kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name) as Any;

beforeAll(async () => {
  const loaded = loadConfig(EXAMPLE);
  const result = await synthesizeAzureDemo(loaded, 'demo', await tempDir('wiring'));
  doc = JSON.parse(await readFile(result.file, 'utf8'));
  plan = planLoadedSite(loaded, 'demo');
  objects = plan.manifests.map((m) => m.object);
});

describe('Key Vault reaches the pods (workload identity + Secrets Store CSI driver)', () => {
  test('every federated subject in the site namespace is a rendered ServiceAccount, annotated, used by a pod mounting the vault', () => {
    const subjects = resources('azurerm_federated_identity_credential').map((f) => f.subject as string);
    const inSite = subjects.filter((s) => s.startsWith(`system:serviceaccount:${plan.values.namespace}:`));
    expect(inSite).toEqual(['system:serviceaccount:primero:primero']);
    for (const subject of inSite) {
      const name = subject.split(':').pop()!;
      const account = named('ServiceAccount', name);
      expect(account, `ServiceAccount ${name}`).toBeDefined();
      expect(account.metadata.annotations[WORKLOAD_IDENTITY.clientIdAnnotation]).toBe(
        '00000000-0000-0000-0000-0000000000b1',
      );
      const pods = podTemplates(objects).filter((p) => p.spec.serviceAccountName === name);
      expect(pods.map((p) => p.ref)).toEqual(['Deployment/primero-key-vault-sync']);
      for (const pod of pods) {
        expect(pod.labels[WORKLOAD_IDENTITY.useLabel]).toBe('true');
        const csi = pod.spec.volumes?.find((v) => v.csi)?.csi;
        expect(csi).toMatchObject({
          driver: 'secrets-store.csi.k8s.io',
          volumeAttributes: { secretProviderClass: KEY_VAULT_CLASS },
        });
      }
    }
    // The only other subject is cert-manager's own account, installed by its Helm chart.
    expect(subjects.filter((s) => !inSite.includes(s))).toEqual([CERT_MANAGER_SUBJECT]);
  });

  test('and the other way: every annotated ServiceAccount and every pod mounting the vault is federated', () => {
    const subjects = new Set(resources('azurerm_federated_identity_credential').map((f) => f.subject));
    const annotated = objects.filter(
      (o) => o.kind === 'ServiceAccount' && o.metadata.annotations?.[WORKLOAD_IDENTITY.clientIdAnnotation],
    );
    expect(annotated.length).toBe(1);
    for (const account of annotated) {
      expect(subjects).toContain(
        `system:serviceaccount:${account.metadata.namespace}:${account.metadata.name}`,
      );
    }
    const mounting = podTemplates(objects).filter((p) => p.spec.volumes?.some((v) => v.csi));
    expect(mounting.length).toBe(1);
    for (const pod of mounting) {
      expect(subjects).toContain(
        `system:serviceaccount:${plan.values.namespace}:${pod.spec.serviceAccountName}`,
      );
    }
  });

  test('the identity the ServiceAccount names may read the vault the SecretProviderClass names', () => {
    const spc = named('SecretProviderClass', KEY_VAULT_CLASS);
    expect(spc.spec.parameters).toMatchObject({
      usePodIdentity: 'false',
      clientID: '00000000-0000-0000-0000-0000000000b1',
      tenantID: '00000000-0000-0000-0000-0000000000e1',
      keyvaultName: (doc.resource!.azurerm_key_vault!['key-vault'] as Any).name,
    });
    const reader = resources('azurerm_role_assignment').find(
      (a) => a.role_definition_name === 'Key Vault Secrets User',
    );
    expect(reader).toMatchObject({
      scope: terraformRef('azurerm_key_vault.key-vault.id'),
      principal_id: terraformRef('azurerm_user_assigned_identity.workload-identity.principal_id'),
    });
    const federation = resources('azurerm_federated_identity_credential').find(
      (f) => f.subject === 'system:serviceaccount:primero:primero',
    );
    expect(federation.parent_id).toBe(terraformRef('azurerm_user_assigned_identity.workload-identity.id'));
  });

  test('every Secret key a pod reads (but TLS and the public database CA) is synced from the vault; no copy by hand', () => {
    const spc = named('SecretProviderClass', KEY_VAULT_CLASS);
    const synced = new Set<string>();
    for (const secret of spc.spec.secretObjects) {
      for (const item of secret.data) synced.add(`${secret.secretName}/${item.key}`);
    }
    const read = new Set<string>();
    for (const pod of podTemplates(objects)) {
      for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
        for (const env of container.env ?? []) {
          const ref = env.valueFrom?.secretKeyRef;
          if (ref) read.add(`${ref.name}/${ref.key}`);
        }
      }
      for (const volume of pod.spec.volumes ?? []) {
        const secret = volume.secret;
        if (!secret?.secretName) continue;
        for (const item of secret.items ?? []) read.add(`${secret.secretName}/${item.key}`);
      }
    }
    const external = new Set([plan.values.tls.secretName, plan.values.database.ca?.name]);
    const fromVault = [...read].filter((ref) => !external.has(ref.split('/')[0]));
    expect(fromVault.length).toBeGreaterThanOrEqual(8);
    expect(fromVault.filter((ref) => !synced.has(ref))).toEqual([]);
    // The generated secrets land where Primero reads them.
    const data = (name: string) =>
      Object.fromEntries(
        spc.spec.secretObjects
          .find((s: Any) => s.secretName === name)
          .data.map((d: Any) => [d.key, d.objectName]),
      );
    expect(data('primero-app')).toMatchObject({
      PRIMERO_SECRET_KEY_BASE: KEY_VAULT_SECRETS.PRIMERO_SECRET_KEY_BASE,
      DEVISE_SECRET_KEY: KEY_VAULT_SECRETS.DEVISE_SECRET_KEY,
      PRIMERO_MESSAGE_SECRET: KEY_VAULT_SECRETS.PRIMERO_MESSAGE_SECRET,
      PRIMERO_STORAGE_AZ_KEY: KEY_VAULT_SECRETS.PRIMERO_STORAGE_AZ_KEY,
    });
    expect(data('primero-database')).toEqual({ password: KEY_VAULT_SECRETS.POSTGRES_PASSWORD });
    expect(data('tier4-ops-env')).toMatchObject({
      DEMO_STORAGE_KEY: KEY_VAULT_SECRETS.PRIMERO_STORAGE_AZ_KEY,
    });
  });

  test('every vault object is one the stack writes, or one the operator is told to add', () => {
    const written = new Set(resources('azurerm_key_vault_secret').map((s) => s.name));
    const spc = named('SecretProviderClass', KEY_VAULT_CLASS);
    const listed = parseYaml(spc.spec.parameters.objects).array.map(
      (item: string) => parseYaml(item).objectName,
    );
    const toAdd = vaultSecretsToAdd(plan.values);
    expect(toAdd).toEqual([
      'demo-backup-integrity-key',
      'demo-primero-password',
      'primero-promote-config-prod-basic-auth',
      'prod-primero-password',
    ]);
    expect(listed.filter((name: string) => !written.has(name) && !toAdd.includes(name))).toEqual([]);
    expect(plan.notes.join('\n')).toContain('demo-backup-integrity-key');
  });

  test('render asks the operator to create no Secret by hand: the vault syncs them all', async () => {
    const result = await renderSiteManifests(loadConfig(EXAMPLE), 'demo', await tempDir('wiring-render'));
    expect(result.secrets).toEqual([]);
    expect(result.findings).toEqual([]);
  });

  test('a site on Azure without the recorded client id stops with what to copy', async () => {
    const file = await fixtureWith(
      (config) => config.deleteIn(['sites', 'demo', 'azure', 'identities', 'workloadClientId']),
      EXAMPLE,
    );
    expect(() => planLoadedSite(loadConfig(file), 'demo')).toThrow(
      expect.objectContaining({
        exitCode: 2,
        message: expect.stringMatching(/azure\.identities\.workloadClientId is not set/),
        hint: expect.stringMatching(/tier4 site apply demo.*workload_identity_client_id/),
      }),
    );
  });
});

describe('the ingress Service takes the static address', () => {
  test('azure-pip-name and the resource group name the stack’s public IP, which the cluster may manage', () => {
    const service = named('Service', 'primero-nginx');
    const ip = doc.resource!.azurerm_public_ip!['ingress-ip'] as Any;
    const group = doc.resource!.azurerm_resource_group!['resource-group'] as Any;
    expect(service.spec.type).toBe('LoadBalancer');
    expect(service.metadata.annotations).toEqual({
      'service.beta.kubernetes.io/azure-pip-name': ip.name,
      'service.beta.kubernetes.io/azure-load-balancer-resource-group': group.name,
    });
    expect(ip.resource_group_name).toBe(terraformRef('azurerm_resource_group.resource-group.name'));
    // azure-aks-docs static-ip.md: an address outside the node resource group needs Network Contributor.
    expect(resources('azurerm_role_assignment')).toContainEqual(
      expect.objectContaining({
        scope: terraformRef('azurerm_resource_group.resource-group.id'),
        role_definition_name: 'Network Contributor',
        principal_id: terraformRef('azurerm_kubernetes_cluster.aks.identity[0].principal_id'),
      }),
    );
  });
});

describe('cert-manager can answer DNS-01 in the stack’s zone', () => {
  test('a ClusterIssuer with the cert-manager identity, federated for cert-manager’s account, with DNS Zone Contributor on the zone', () => {
    const issuer = objects.find((o) => o.kind === 'ClusterIssuer') as Any;
    const certificate = named('Certificate', 'primero');
    expect(certificate.spec.issuerRef).toEqual({
      name: issuer.metadata.name,
      kind: 'ClusterIssuer',
      group: 'cert-manager.io',
    });
    const zone = doc.resource!.azurerm_dns_zone!['dns-zone'] as Any;
    const group = doc.resource!.azurerm_resource_group!['resource-group'] as Any;
    expect(issuer.spec.acme.solvers[0].dns01.azureDNS).toEqual({
      subscriptionID: '00000000-0000-0000-0000-000000000000',
      resourceGroupName: group.name,
      hostedZoneName: zone.name,
      environment: 'AzurePublicCloud',
      managedIdentity: { clientID: '00000000-0000-0000-0000-0000000000c1' },
    });
    expect(doc.resource!.azurerm_federated_identity_credential!['cert-manager-federation']).toMatchObject({
      subject: 'system:serviceaccount:cert-manager:cert-manager',
      parent_id: terraformRef('azurerm_user_assigned_identity.cert-manager-identity.id'),
      issuer: terraformRef('azurerm_kubernetes_cluster.aks.oidc_issuer_url'),
      audience: ['api://AzureADTokenExchange'],
    });
    expect(resources('azurerm_role_assignment')).toContainEqual(
      expect.objectContaining({
        scope: terraformRef('azurerm_dns_zone.dns-zone.id'),
        role_definition_name: 'DNS Zone Contributor',
        principal_id: terraformRef('azurerm_user_assigned_identity.cert-manager-identity.principal_id'),
      }),
    );
    expect(Object.keys(doc.output as object)).toContain('cert_manager_identity_client_id');
  });
});
