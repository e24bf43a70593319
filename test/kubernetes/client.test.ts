import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { readCertManagerCertificate, readSecret, readTlsSecret } from '../../certs/kubernetes.js';
import type { KubeObject } from '../../charts/primero/common.js';
import { loadConfig } from '../../core/config/load.js';
import { connectKube, loadKubeConfig } from '../../core/kubernetes/index.js';
import { planSite } from '../../stacks/production/site.js';
import { createRootCa, issueLeaf } from '../support/certs-factory.js';
import { type PolicyRule, startFakeKubeApi, tlsSecret } from '../support/certs-kube-api.js';
import { REPO_ROOT } from '../support/cli.js';
import { testSecret } from '../support/secrets.js';

/**
 * core/kubernetes: one way to reach the API server, from an operator's kubeconfig or from inside a pod with
 * the pod's service account, and a clear error when there is neither.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const emptyHome = () => mkdtemp(join(tmpdir(), 'tier4-home-'));

describe('loadKubeConfig', () => {
  test('no kubeconfig and not in a pod: says so and how to set one (not "HTTP protocol is not allowed")', async () => {
    const home = await emptyHome();
    const error = await loadKubeConfig({}, { env: { HOME: home }, home }).catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: 2 });
    const text = `${(error as Error).message} ${(error as { hint?: string }).hint}`;
    expect(text).toContain('No kubeconfig found');
    expect(text).toContain('KUBECONFIG');
    expect(text).toContain(join(home, '.kube', 'config'));
    expect(text).not.toContain('HTTP protocol');
  });

  test('a context the kubeconfig lacks is named, with the contexts it has', async () => {
    const api = await startFakeKubeApi({ token: testSecret('kube-token') });
    cleanups.push(() => api.stop());
    const error = await loadKubeConfig(
      { context: 'prod-cluster' },
      { env: { KUBECONFIG: api.kubeconfig } },
    ).catch((e: unknown) => e);
    expect((error as Error).message).toContain('no context "prod-cluster" (it has: fake-context)');
  });

  test('a pod without a token: says the service account token is missing', async () => {
    const home = await emptyHome();
    const error = await loadKubeConfig(
      {},
      { env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, home, serviceAccountDir: join(home, 'sa') },
    ).catch((e: unknown) => e);
    expect((error as Error).message).toContain('no service account token in this pod');
  });
});

/** The doctor's Role as `tier4 site render demo` renders it from the shipped example. */
function renderedDoctorRole(): { rules: PolicyRule[]; objects: KubeObject[] } {
  const loaded = loadConfig(join(REPO_ROOT, 'examples', 'tier4.example.yaml'));
  const plan = planSite(loaded.config, 'demo', { configText: '' });
  const objects = plan.manifests.map((manifest) => manifest.object);
  const role = objects.find((object) => object.kind === 'Role' && object.metadata.name === 'tier4-doctor');
  if (!role) throw new Error('no tier4-doctor Role rendered');
  return { rules: role.rules as PolicyRule[], objects };
}

describe('in a pod', () => {
  test('uses the pod service account over HTTPS, ignores a kubeconfig context, and the rendered Role allows exactly what the doctor reads', async () => {
    const root = await createRootCa('Tier4 Test Cluster CA');
    const serving = await issueLeaf(root, { names: ['localhost'] });
    const token = testSecret('sa-token');
    const { rules } = renderedDoctorRole();
    const api = await startFakeKubeApi({
      token,
      tls: { cert: serving.cert, key: serving.key },
      rules,
    });
    cleanups.push(() => api.stop());
    api.secrets.set('primero/primero-tls', tlsSecret('primero', 'primero-tls', serving));
    api.secrets.set('primero/primero-app', tlsSecret('primero', 'primero-app', serving));
    api.certificates.set('primero/primero', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'primero', namespace: 'primero', generation: 1 },
      status: { conditions: [{ type: 'Ready', status: 'True' }], revision: 1 },
    });
    // The files the kubelet projects into the pod (the chart's kube-api-access volume).
    const home = await emptyHome();
    const accountDir = join(home, 'serviceaccount');
    await mkdir(accountDir);
    await writeFile(join(accountDir, 'token'), token);
    await writeFile(join(accountDir, 'ca.crt'), root.pem);
    await writeFile(join(accountDir, 'namespace'), 'primero');
    const port = new URL(api.url).port;
    const environment = {
      env: { HOME: home, KUBERNETES_SERVICE_HOST: 'localhost', KUBERNETES_SERVICE_PORT: port },
      home,
      serviceAccountDir: accountDir,
    };

    const loaded = await loadKubeConfig({ context: 'operators-laptop' }, environment);
    expect(loaded).toMatchObject({ inCluster: true, source: 'in-cluster', podNamespace: 'primero' });
    expect(loaded.config.getCurrentCluster()?.server).toBe(`https://localhost:${port}`);

    const kube = await connectKube({ namespace: 'primero', context: 'operators-laptop' }, environment);
    expect((await readTlsSecret(kube, 'primero-tls'))?.cert).toBe(serving.cert);
    expect((await readCertManagerCertificate(kube, 'primero'))?.ready).toBe(true);
    // Least privilege: the application's secrets are not the doctor's to read.
    await expect(readSecret(kube, 'primero-app')).rejects.toThrow(/HTTP 403/);
    expect(api.requests.every((request) => request.authorization === `Bearer ${token}`)).toBe(true);
  });
});
