import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A small stand-in for the Kubernetes API server (no cluster runs here), speaking the endpoints tier4 uses
 * as the API documents them: core/v1 Secrets (get, list with labelSelector, create, replace with optimistic
 * concurrency on resourceVersion), apps/v1 Deployments (get, strategic-merge patch that bumps the generation,
 * a rollout that completes after a hook runs), and cert-manager.io/v1 Certificates (get, status merge patch).
 */

// biome-ignore lint/suspicious/noExplicitAny: the fake stores arbitrary Kubernetes JSON, read by tests as such
type Json = Record<string, any>;

export interface RecordedRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: Json | undefined;
}

export interface FakeKubeApi {
  url: string;
  kubeconfig: string;
  requests: RecordedRequest[];
  secrets: Map<string, Json>;
  deployments: Map<string, Json>;
  certificates: Map<string, Json>;
  /**
   * Runs when a Deployment's pod template changes, before its rollout reports success. Throw for a rollout
   * that exceeds its progress deadline; never settle for one that hangs.
   */
  onRollout: (namespace: string, name: string) => Promise<void>;
  /** Runs when a Certificate is asked to re-issue: write the new Secret here. */
  onIssue: (namespace: string, name: string) => Promise<void>;
  stop(): Promise<void>;
}

let resourceVersion = 100;
const nextVersion = () => String(++resourceVersion);

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }));
}

function send(res: ServerResponse, body: Json): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Json | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Json) : undefined;
}

function merge(target: Json, patch: Json): Json {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete target[key];
    else if (typeof value === 'object' && !Array.isArray(value) && typeof target[key] === 'object')
      merge(target[key], value);
    else target[key] = structuredClone(value);
  }
  return target;
}

function matchesSelector(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    return value === undefined ? labels?.[key!] !== undefined : labels?.[key!] === value;
  });
}

/** One rule of a Role, as rbac.authorization.k8s.io/v1 PolicyRule. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/**
 * The request attributes RBAC authorizes, per the Kubernetes docs ("Authorization: Determine the request
 * verb", "Referring to resources"): GET of one object is `get`, of a collection `list`; PUT `update`;
 * PATCH `patch`; POST `create`; a subresource is `resource/subresource`; resourceNames never match a list
 * or a create.
 */
function requestAttributes(method: string, path: string) {
  const match =
    /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/namespaces\/[^/]+\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  if (!match) return undefined;
  const [, group = '', resource = '', name, subresource] = match;
  const verb =
    method === 'GET'
      ? name
        ? 'get'
        : 'list'
      : ({ PUT: 'update', PATCH: 'patch', POST: 'create', DELETE: 'delete' } as Record<string, string>)[
          method
        ];
  return { group, resource: subresource ? `${resource}/${subresource}` : resource, name, verb: verb ?? '' };
}

export function allowedBy(rules: PolicyRule[], method: string, path: string): boolean {
  const attributes = requestAttributes(method, path);
  if (!attributes) return false;
  return rules.some(
    (rule) =>
      (rule.apiGroups.includes(attributes.group) || rule.apiGroups.includes('*')) &&
      (rule.resources.includes(attributes.resource) || rule.resources.includes('*')) &&
      (rule.verbs.includes(attributes.verb) || rule.verbs.includes('*')) &&
      (!rule.resourceNames?.length ||
        (attributes.name !== undefined && rule.resourceNames.includes(attributes.name))),
  );
}

export async function startFakeKubeApi(options: {
  token: string;
  namespace?: string;
  /** Serve HTTPS with this certificate, as a real API server does (in-cluster clients refuse plain HTTP). */
  tls?: { cert: string; key: string };
  /** Authorize as RBAC would for a ServiceAccount bound to a Role with these rules (403 otherwise). */
  rules?: PolicyRule[];
}): Promise<FakeKubeApi> {
  const api: Omit<FakeKubeApi, 'url' | 'kubeconfig' | 'stop'> = {
    requests: [],
    secrets: new Map(),
    deployments: new Map(),
    certificates: new Map(),
    onRollout: async () => {},
    onIssue: async () => {},
  };

  async function rollout(key: string, namespace: string, name: string): Promise<void> {
    const deployment = api.deployments.get(key);
    if (!deployment) return;
    try {
      await api.onRollout(namespace, name);
    } catch (error) {
      // The new pods never become ready: the controller reports the progress deadline as exceeded.
      deployment.status = {
        ...deployment.status,
        observedGeneration: deployment.metadata.generation,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: `ReplicaSet has timed out progressing: ${(error as Error).message}`,
          },
        ],
      };
      return;
    }
    const replicas = deployment.spec?.replicas ?? 1;
    deployment.status = {
      observedGeneration: deployment.metadata.generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const body = await readBody(req);
    api.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      contentType: req.headers['content-type'],
      authorization: req.headers.authorization,
      body,
    });
    if (req.headers.authorization !== `Bearer ${options.token}`)
      return status(res, 401, 'Unauthorized', 'Unauthorized');
    if (options.rules && !allowedBy(options.rules, req.method ?? 'GET', url.pathname))
      return status(res, 403, 'Forbidden', `forbidden: ${req.method} ${url.pathname}`);
    let match = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(url.pathname);
    if (match) {
      const [, namespace, name] = match;
      const key = `${namespace}/${name}`;
      if (!name && req.method === 'GET') {
        const items = [...api.secrets.entries()]
          .filter(
            ([k, s]) =>
              k.startsWith(`${namespace}/`) &&
              matchesSelector(s.metadata.labels, url.searchParams.get('labelSelector')),
          )
          .map(([, s]) => s);
        return send(res, {
          kind: 'SecretList',
          apiVersion: 'v1',
          metadata: { resourceVersion: nextVersion() },
          items,
        });
      }
      if (!name && req.method === 'POST') {
        const created = structuredClone(body!);
        const createdKey = `${namespace}/${created.metadata.name}`;
        if (api.secrets.has(createdKey))
          return status(res, 409, 'AlreadyExists', `secrets "${created.metadata.name}" already exists`);
        created.metadata = {
          ...created.metadata,
          namespace,
          resourceVersion: nextVersion(),
          uid: createdKey,
        };
        api.secrets.set(createdKey, created);
        return send(res, created);
      }
      const existing = api.secrets.get(key);
      if (req.method === 'GET')
        return existing ? send(res, existing) : status(res, 404, 'NotFound', `secrets "${name}" not found`);
      if (req.method === 'PUT') {
        if (!existing) return status(res, 404, 'NotFound', `secrets "${name}" not found`);
        if (body?.metadata?.resourceVersion !== existing.metadata.resourceVersion) {
          return status(
            res,
            409,
            'Conflict',
            'the object has been modified; please apply your changes to the latest version and try again',
          );
        }
        const replaced = structuredClone(body!);
        replaced.metadata = { ...replaced.metadata, namespace, resourceVersion: nextVersion() };
        api.secrets.set(key, replaced);
        return send(res, replaced);
      }
    }
    match = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)$/.exec(url.pathname);
    if (match) {
      const [, namespace, name] = match;
      const key = `${namespace}/${name}`;
      const existing = api.deployments.get(key);
      if (!existing) return status(res, 404, 'NotFound', `deployments.apps "${name}" not found`);
      if (req.method === 'GET') return send(res, existing);
      if (req.method === 'PATCH') {
        if (req.headers['content-type'] !== 'application/strategic-merge-patch+json') {
          return status(
            res,
            415,
            'UnsupportedMediaType',
            `unsupported patch type ${req.headers['content-type']}`,
          );
        }
        const before = JSON.stringify(existing.spec);
        merge(existing, body ?? {});
        if (JSON.stringify(existing.spec) !== before) {
          existing.metadata.generation += 1;
          existing.metadata.resourceVersion = nextVersion();
          existing.status = {
            ...existing.status,
            updatedReplicas: 0,
            availableReplicas: existing.status?.availableReplicas ?? 0,
          };
          setTimeout(() => void rollout(key, namespace!, name!), 50);
        }
        return send(res, existing);
      }
    }
    match = /^\/apis\/cert-manager\.io\/v1\/namespaces\/([^/]+)\/certificates\/([^/]+)(\/status)?$/.exec(
      url.pathname,
    );
    if (match) {
      const [, namespace, name, sub] = match;
      const key = `${namespace}/${name}`;
      const existing = api.certificates.get(key);
      if (!existing) return status(res, 404, 'NotFound', `certificates.cert-manager.io "${name}" not found`);
      if (req.method === 'GET') return send(res, existing);
      if (req.method === 'PATCH' && sub) {
        if (req.headers['content-type'] !== 'application/merge-patch+json') {
          return status(
            res,
            415,
            'UnsupportedMediaType',
            `unsupported patch type ${req.headers['content-type']}`,
          );
        }
        existing.status = { ...existing.status, ...(body?.status ?? {}) };
        const issuing = existing.status.conditions?.some(
          (c: Json) => c.type === 'Issuing' && c.status === 'True',
        );
        if (issuing) {
          setTimeout(async () => {
            await api.onIssue(namespace!, name!);
            existing.status.conditions = [
              {
                type: 'Ready',
                status: 'True',
                reason: 'Ready',
                message: 'Certificate is up to date and has not expired',
              },
            ];
            existing.status.revision = (existing.status.revision ?? 0) + 1;
          }, 50);
        }
        return send(res, existing);
      }
    }
    status(res, 404, 'NotFound', `no fake route for ${req.method} ${url.pathname}`);
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error) => status(res, 500, 'InternalError', String(error)));
  };
  const server: Server = options.tls ? createTlsServer(options.tls, listener) : createServer(listener);
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = await mkdtemp(join(tmpdir(), 'tier4-certs-kube-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP on loopback; client-node allows that only with TLS verification off.
      clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'tier4-test', user: { token: options.token } }],
      contexts: [
        {
          name: 'fake-context',
          context: { cluster: 'fake', user: 'tier4-test', namespace: options.namespace ?? 'primero' },
        },
      ],
      'current-context': 'fake-context',
    }),
    { mode: 0o600 },
  );
  return Object.assign(api, {
    url,
    kubeconfig,
    stop: () => new Promise<void>((resolvePromise) => server.close(() => resolvePromise())),
  }) as FakeKubeApi;
}

export function tlsSecret(namespace: string, name: string, pair: { cert: string; key: string }): Json {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, resourceVersion: nextVersion(), uid: `${namespace}/${name}` },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(pair.cert).toString('base64'),
      'tls.key': Buffer.from(pair.key).toString('base64'),
    },
  };
}

export function deployment(namespace: string, name: string): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, generation: 1, resourceVersion: nextVersion() },
    spec: {
      replicas: 2,
      template: { metadata: { annotations: {} }, spec: { containers: [{ name: 'nginx' }] } },
    },
    status: {
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
    },
  };
}
