import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { errorMessage, UsageError } from '../errors.js';

/**
 * The one way tier4 reaches a Kubernetes API server (certs, doctor, site commands).
 *
 * The order follows kubectl's (client-go's clientcmd loading rules): an explicit kubeconfig file, then
 * $KUBECONFIG (a list joined by the path delimiter; the first file's current context wins), then
 * ~/.kube/config, and only when none exists the pod's own service account (in-cluster config).
 * In a pod, a configured context is ignored: it names a context of an operator's kubeconfig, which the pod
 * does not have.
 *
 * In-cluster facts, from @kubernetes/client-node's `KubeConfig.loadFromCluster` (src/config.ts) and the
 * Kubernetes docs ("Accessing the Kubernetes API from a Pod"): the API server is
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the token, CA and namespace are files under
 * /var/run/secrets/kubernetes.io/serviceaccount/, and the token file is read again as the kubelet rotates it
 * (client-node's `tokenFile` auth provider). Without any of these, client-node's `loadFromDefault` silently
 * falls back to http://localhost:8080 and then fails with "HTTP protocol is not allowed when skipTLSVerify is
 * not set or false", which tells an operator nothing: we say what is missing instead.
 */

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeTarget {
  /** kubeconfig context; default: the file's current context. Ignored in a pod. */
  context?: string | undefined;
  /** kubeconfig file; default: $KUBECONFIG, then ~/.kube/config, then the pod's service account. */
  kubeconfig?: string | undefined;
}

export interface KubeEnvironment {
  env?: NodeJS.ProcessEnv;
  /** Where the pod's service account files are (tests point this at a temporary folder). */
  serviceAccountDir?: string;
  /** Home folder holding .kube/config. */
  home?: string;
}

export interface LoadedKubeConfig {
  config: KubeConfig;
  /** 'in-cluster', or the kubeconfig file(s) read. */
  source: string;
  inCluster: boolean;
  /** In a pod: the pod's namespace (from the service account files). */
  podNamespace?: string;
}

const SET_KUBECONFIG =
  "Set KUBECONFIG to your cluster's kubeconfig file (for AKS: `az aks get-credentials`), or create ~/.kube/config; choose the context with sites.<name>.kubernetes.context or `kubectl config use-context NAME`.";

function serviceAccountFiles(dir: string) {
  return { token: join(dir, 'token'), ca: join(dir, 'ca.crt'), namespace: join(dir, 'namespace') };
}

export async function loadKubeConfig(
  target: KubeTarget = {},
  environment: KubeEnvironment = {},
): Promise<LoadedKubeConfig> {
  const k8s = await import('@kubernetes/client-node');
  const env = environment.env ?? process.env;
  const config = new k8s.KubeConfig();
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const homeConfig = join(environment.home ?? env.HOME ?? homedir(), '.kube', 'config');
  const files = target.kubeconfig ? [target.kubeconfig] : fromEnv.length > 0 ? fromEnv : [];
  if (files.length === 0 && existsSync(homeConfig)) files.push(homeConfig);

  if (files.length === 0) {
    const account = serviceAccountFiles(environment.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    if (host && existsSync(account.token)) {
      const { readFileSync } = await import('node:fs');
      const podNamespace = existsSync(account.namespace)
        ? readFileSync(account.namespace, 'utf8').trim()
        : undefined;
      config.loadFromOptions({
        clusters: [
          {
            name: 'in-cluster',
            server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
            caFile: account.ca,
            skipTLSVerify: false,
          },
        ],
        users: [
          { name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: account.token } } },
        ],
        contexts: [
          { name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster', namespace: podNamespace },
        ],
        currentContext: 'in-cluster',
      });
      return { config, source: 'in-cluster', inCluster: true, ...(podNamespace ? { podNamespace } : {}) };
    }
    throw new UsageError(
      host
        ? `No kubeconfig found and no service account token in this pod (${account.token} is missing): tier4 cannot reach the Kubernetes API.`
        : `No kubeconfig found: KUBECONFIG is not set and ${homeConfig} does not exist, so tier4 cannot reach the Kubernetes API.`,
      host
        ? "Give the pod's ServiceAccount a token (tier4 site render mounts one into the doctor job), or set KUBECONFIG."
        : SET_KUBECONFIG,
    );
  }

  try {
    config.loadFromFile(files[0]!);
    for (const file of files.slice(1)) {
      const more = new k8s.KubeConfig();
      more.loadFromFile(file);
      config.mergeConfig(more);
    }
  } catch (error) {
    throw new UsageError(
      `Cannot read the kubeconfig ${files.join(delimiter)}: ${errorMessage(error)}`,
      SET_KUBECONFIG,
    );
  }
  const source = files.join(delimiter);
  if (target.context) {
    if (!config.getContextObject(target.context)) {
      const known = config.getContexts().map((context) => context.name);
      throw new UsageError(
        `The kubeconfig ${source} has no context "${target.context}"${known.length ? ` (it has: ${known.join(', ')})` : ''}.`,
        'Set sites.<name>.kubernetes.context to one of its contexts, or point KUBECONFIG at the file that has it.',
      );
    }
    config.setCurrentContext(target.context);
  }
  if (!config.getCurrentContext() || !config.getCurrentCluster()) {
    throw new UsageError(
      `The kubeconfig ${source} has no current context with a cluster.`,
      'Run `kubectl config use-context NAME`, or set sites.<name>.kubernetes.context.',
    );
  }
  return { config, source, inCluster: false };
}

export interface Kube {
  namespace: string;
  core: CoreV1Api;
  apps: AppsV1Api;
  custom: CustomObjectsApi;
  /** Sends a patch with the given content type. */
  patchOptions(contentType: string): unknown;
}

/** API clients for one namespace. */
export async function connectKube(
  target: KubeTarget & { namespace: string },
  environment: KubeEnvironment = {},
): Promise<Kube> {
  const k8s = await import('@kubernetes/client-node');
  const { config } = await loadKubeConfig(target, environment);
  return {
    namespace: target.namespace,
    core: config.makeApiClient(k8s.CoreV1Api),
    apps: config.makeApiClient(k8s.AppsV1Api),
    custom: config.makeApiClient(k8s.CustomObjectsApi),
    patchOptions: (contentType) => k8s.setHeaderOptions('Content-Type', contentType),
  };
}
