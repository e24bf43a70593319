import type { AppsV1Api, V1Secret } from '@kubernetes/client-node';
import { errorMessage, OperationError, UsageError } from '../core/errors.js';
import type { Kube } from '../core/kubernetes/index.js';

/**
 * The Kubernetes side of certificates: TLS Secrets, the nginx Deployment's rollout, cert-manager Certificates.
 * @kubernetes/client-node is loaded on first use so that `tier4 --help` stays fast.
 */

export { connectKube, type Kube, type KubeTarget } from '../core/kubernetes/index.js';

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** A short, secret-free description of a failed API call. */
export function kubeError(action: string, error: unknown): OperationError {
  const status = statusOf(error);
  const body = (error as { body?: unknown }).body;
  let reason = '';
  if (typeof body === 'string') {
    try {
      reason = (JSON.parse(body) as { message?: string }).message ?? '';
    } catch {
      reason = '';
    }
  }
  const detail = status ? `HTTP ${status}${reason ? `: ${reason}` : ''}` : errorMessage(error);
  return new OperationError(
    `Kubernetes API: cannot ${action} (${detail}).`,
    status === 401 || status === 403
      ? 'Check that your kubeconfig user may read and update Secrets and Deployments in this namespace.'
      : 'Check the kubeconfig context and that the cluster is reachable.',
    error,
  );
}

export interface TlsSecret {
  name: string;
  cert: string;
  key: string;
  /** The whole Secret as read, to restore it exactly. */
  raw: V1Secret;
}

function decode(data: Record<string, string> | undefined, key: string): string | undefined {
  const value = data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

export async function readSecret(kube: Kube, name: string): Promise<V1Secret | null> {
  try {
    return await kube.core.readNamespacedSecret({ name, namespace: kube.namespace });
  } catch (error) {
    if (statusOf(error) === 404) return null;
    throw kubeError(`read Secret ${kube.namespace}/${name}`, error);
  }
}

export async function readTlsSecret(kube: Kube, name: string): Promise<TlsSecret | null> {
  const raw = await readSecret(kube, name);
  if (!raw) return null;
  const cert = decode(raw.data, 'tls.crt');
  const key = decode(raw.data, 'tls.key');
  if (!cert || !key) {
    throw new OperationError(
      `Secret ${kube.namespace}/${name} has no tls.crt or tls.key.`,
      'It should be a kubernetes.io/tls Secret.',
    );
  }
  return { name, cert, key, raw };
}

function encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/**
 * Replaces a TLS Secret's certificate and key in one update. The resourceVersion makes it fail rather than
 * overwrite a change someone else made since we read it.
 */
export async function replaceTlsSecret(
  kube: Kube,
  current: V1Secret,
  pair: { cert: string; key: string },
): Promise<V1Secret> {
  const name = current.metadata?.name ?? '';
  const body: V1Secret = {
    ...current,
    data: { ...current.data, 'tls.crt': encode(pair.cert), 'tls.key': encode(pair.key) },
  };
  try {
    return await kube.core.replaceNamespacedSecret({ name, namespace: kube.namespace, body });
  } catch (error) {
    throw kubeError(`update Secret ${kube.namespace}/${name}`, error);
  }
}

/** Puts a Secret back exactly as it was read (data and type), on top of whatever is there now. */
export async function restoreSecret(kube: Kube, saved: V1Secret): Promise<void> {
  const name = saved.metadata?.name ?? '';
  const now = await readSecret(kube, name);
  const body: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { ...saved.metadata, resourceVersion: now?.metadata?.resourceVersion },
    type: saved.type,
    data: saved.data,
  };
  try {
    if (now) await kube.core.replaceNamespacedSecret({ name, namespace: kube.namespace, body });
    else await kube.core.createNamespacedSecret({ namespace: kube.namespace, body });
  } catch (error) {
    throw kubeError(`restore Secret ${kube.namespace}/${name}`, error);
  }
}

/** Creates or replaces a Secret we own (backups of the previous pair, client certificates). */
export async function putSecret(
  kube: Kube,
  name: string,
  type: string,
  data: Record<string, string>,
  labels: Record<string, string>,
  options: { overwrite: boolean },
): Promise<void> {
  const existing = await readSecret(kube, name);
  if (existing && !options.overwrite) {
    throw new UsageError(
      `Secret ${kube.namespace}/${name} already exists; nothing was changed.`,
      'Choose another name, or delete that Secret first if it is no longer used.',
    );
  }
  const encoded = Object.fromEntries(Object.entries(data).map(([key, value]) => [key, encode(value)]));
  const body: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace: kube.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'tier4', ...labels },
      ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
    },
    type,
    data: encoded,
  };
  try {
    if (existing) await kube.core.replaceNamespacedSecret({ name, namespace: kube.namespace, body });
    else await kube.core.createNamespacedSecret({ namespace: kube.namespace, body });
  } catch (error) {
    throw kubeError(`write Secret ${kube.namespace}/${name}`, error);
  }
}

/** Secrets with a label selector, decoded. */
export async function listSecrets(kube: Kube, labelSelector: string): Promise<V1Secret[]> {
  try {
    return (await kube.core.listNamespacedSecret({ namespace: kube.namespace, labelSelector })).items;
  } catch (error) {
    throw kubeError(`list Secrets in ${kube.namespace}`, error);
  }
}

export function secretText(secret: V1Secret, key: string): string | undefined {
  return decode(secret.data, key);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(resolvePromise, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

export { sleep };

/** Reads a Deployment (nothing else): a missing one, or one this identity may not read, is an error. */
export async function readDeployment(kube: Kube, name: string): Promise<void> {
  try {
    await kube.apps.readNamespacedDeployment({ name, namespace: kube.namespace });
  } catch (error) {
    throw kubeError(`read Deployment ${kube.namespace}/${name}`, error);
  }
}

/**
 * `kubectl rollout restart`: a new pod-template annotation makes the Deployment replace its pods, which then
 * read the updated Secret. Waits until every replica runs the new template.
 */
export async function restartDeployment(
  kube: Kube,
  name: string,
  options: { timeoutSeconds: number; signal?: AbortSignal; pollMs?: number },
): Promise<void> {
  const where = `Deployment ${kube.namespace}/${name}`;
  let generation: number;
  try {
    const patched = await kube.apps.patchNamespacedDeployment(
      {
        name,
        namespace: kube.namespace,
        body: {
          spec: {
            template: {
              metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } },
            },
          },
        },
      },
      kube.patchOptions('application/strategic-merge-patch+json') as never,
    );
    generation = patched.metadata?.generation ?? 0;
  } catch (error) {
    throw kubeError(`restart ${where}`, error);
  }
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  for (;;) {
    let deployment: Awaited<ReturnType<AppsV1Api['readNamespacedDeployment']>>;
    try {
      deployment = await kube.apps.readNamespacedDeployment({ name, namespace: kube.namespace });
    } catch (error) {
      throw kubeError(`read ${where}`, error);
    }
    const wanted = deployment.spec?.replicas ?? 1;
    const status = deployment.status ?? {};
    if (
      (status.observedGeneration ?? 0) >= generation &&
      (status.updatedReplicas ?? 0) >= wanted &&
      (status.replicas ?? 0) === (status.updatedReplicas ?? 0) &&
      (status.availableReplicas ?? 0) >= wanted
    ) {
      return;
    }
    const stalled = status.conditions?.find(
      (condition) => condition.type === 'Progressing' && condition.reason === 'ProgressDeadlineExceeded',
    );
    if (stalled && (status.observedGeneration ?? 0) >= generation) {
      throw new OperationError(
        `${where} exceeded its progress deadline: ${stalled.message ?? 'the new pods do not become ready'}.`,
        `Look at \`kubectl -n ${kube.namespace} rollout status deployment/${name}\` and the pods' events.`,
      );
    }
    if (Date.now() > deadline) {
      throw new OperationError(
        `${where} did not finish its rollout within ${options.timeoutSeconds} s (${status.updatedReplicas ?? 0}/${wanted} updated, ${status.availableReplicas ?? 0} available).`,
        `Look at \`kubectl -n ${kube.namespace} rollout status deployment/${name}\` and the pods' events.`,
      );
    }
    await sleep(options.pollMs ?? 1000, options.signal);
  }
}

/** The parts of a cert-manager Certificate that matter here. */
export interface CertManagerState {
  name: string;
  ready: boolean;
  reason: string | null;
  message: string | null;
  notAfter: string | null;
  renewalTime: string | null;
  revision: number;
}

const CERT_MANAGER = { group: 'cert-manager.io', version: 'v1', plural: 'certificates' } as const;

interface CertificateObject {
  metadata?: { generation?: number };
  status?: {
    conditions?: Array<{
      type: string;
      status: string;
      reason?: string;
      message?: string;
      observedGeneration?: number;
    }>;
    notAfter?: string;
    renewalTime?: string;
    revision?: number;
  };
}

export async function readCertManagerCertificate(kube: Kube, name: string): Promise<CertManagerState | null> {
  let object: CertificateObject;
  try {
    object = (await kube.custom.getNamespacedCustomObject({
      ...CERT_MANAGER,
      namespace: kube.namespace,
      name,
    })) as CertificateObject;
  } catch (error) {
    if (statusOf(error) === 404) return null;
    throw kubeError(`read cert-manager Certificate ${kube.namespace}/${name}`, error);
  }
  const ready = object.status?.conditions?.find((condition) => condition.type === 'Ready');
  return {
    name,
    ready: ready?.status === 'True',
    reason: ready?.reason ?? null,
    message: ready?.message ?? null,
    notAfter: object.status?.notAfter ?? null,
    renewalTime: object.status?.renewalTime ?? null,
    revision: object.status?.revision ?? 0,
  };
}

/**
 * Asks cert-manager to issue the Certificate again now, as `cmctl renew` does: add an Issuing condition
 * to its status. Then waits for a new revision to be Ready.
 */
export async function renewCertManagerCertificate(
  kube: Kube,
  name: string,
  options: { timeoutSeconds: number; signal?: AbortSignal; pollMs?: number },
): Promise<CertManagerState> {
  const where = `cert-manager Certificate ${kube.namespace}/${name}`;
  const before = await readCertManagerCertificate(kube, name);
  if (!before) {
    throw new UsageError(`${where} does not exist.`, 'Check tls.source.certificate and the namespace.');
  }
  let object: CertificateObject;
  try {
    object = (await kube.custom.getNamespacedCustomObject({
      ...CERT_MANAGER,
      namespace: kube.namespace,
      name,
    })) as CertificateObject;
  } catch (error) {
    throw kubeError(`read ${where}`, error);
  }
  const conditions = (object.status?.conditions ?? []).filter((condition) => condition.type !== 'Issuing');
  conditions.push({
    type: 'Issuing',
    status: 'True',
    reason: 'ManuallyTriggered',
    message: 'Certificate re-issuance manually triggered by tier4 certs rotate',
    observedGeneration: object.metadata?.generation ?? 0,
    lastTransitionTime: new Date().toISOString(),
  } as never);
  try {
    await kube.custom.patchNamespacedCustomObjectStatus(
      { ...CERT_MANAGER, namespace: kube.namespace, name, body: { status: { conditions } } },
      kube.patchOptions('application/merge-patch+json') as never,
    );
  } catch (error) {
    throw kubeError(`trigger re-issuance of ${where}`, error);
  }
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  for (;;) {
    const state = await readCertManagerCertificate(kube, name);
    if (state?.ready && state.revision > before.revision) return state;
    if (Date.now() > deadline) {
      throw new OperationError(
        `${where} was not re-issued within ${options.timeoutSeconds} s${state?.message ? ` (${state.message})` : ''}.`,
        `Look at \`kubectl -n ${kube.namespace} describe certificate ${name}\` and its CertificateRequest.`,
      );
    }
    await sleep(options.pollMs ?? 2000, options.signal);
  }
}
