import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import { DEFAULT_NGINX_DEPLOYMENT } from '../../core/config/schema.js';
import type { Component, PrimeroValues } from './values.js';

/** Any Kubernetes object we render: built-in kinds typed by kubernetes-models, custom resources loosely. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: IObjectMeta & { name: string };
  [field: string]: unknown;
}

/** Primero's images run as these users (docker/defaults.env: APP_UID 1000, NGINX_UID 1001; Solr 8983). */
export const UIDS = { primero: 1000, nginx: 1001, solr: 8983, ops: 10001 } as const;

export const NAMES = {
  application: 'primero-application',
  worker: 'primero-worker',
  nginx: DEFAULT_NGINX_DEPLOYMENT,
  solr: 'primero-solr',
  config: 'primero-config',
  nginxConfig: 'primero-nginx-config',
  dhparam: 'primero-nginx-dhparam',
  attachments: 'primero-attachments',
  opsConfig: 'tier4-config',
  backup: 'tier4-backup',
  drill: 'tier4-drill',
  doctor: 'tier4-doctor',
} as const;

export const APP_ROOT = '/srv/primero/application';

/** The migration Job is named per release, so an upgrade runs a new Job rather than mutating a finished one. */
/**
 * Orders Kubernetes object names by code point. They are DNS names (a-z, 0-9, '-', '.'), which this orders as
 * String.localeCompare did, without loading ICU's collator: about 5 ms on its first use, in every
 * `config validate` and `site render` (#16).
 */
export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function migrateJobName(values: PrimeroValues): string {
  return `primero-migrate-${values.version.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`.replace(/-$/, '');
}

export function selectorLabels(values: PrimeroValues, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'primero',
    'app.kubernetes.io/instance': `${values.deployment}-${values.site}`,
    'app.kubernetes.io/component': component,
  };
}

export function labels(values: PrimeroValues, component: string): Record<string, string> {
  return {
    ...selectorLabels(values, component),
    'app.kubernetes.io/version': values.version,
    'app.kubernetes.io/part-of': 'primero',
    'app.kubernetes.io/managed-by': 'tier4',
  };
}

export function metadata(
  values: PrimeroValues,
  name: string,
  component: string,
  annotations?: Record<string, string>,
): KubeObject['metadata'] {
  return {
    name,
    namespace: values.namespace,
    labels: labels(values, component),
    ...(annotations ? { annotations } : {}),
  };
}

/** Pod Security Standards "restricted", at pod level. fsGroup lets the user write to mounted volumes. */
export function podSecurityContext(uid: number): IPodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Pod Security Standards "restricted", at container level, plus a read-only root filesystem. */
export function containerSecurityContext(uid: number): ISecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function resourcesFor(values: PrimeroValues, component: Component): IContainer['resources'] {
  const resources = values.resources[component];
  if (!resources) throw new Error(`no resources for ${component}`);
  return { requests: { ...resources.requests }, limits: { ...resources.limits } };
}

export function emptyDir(name: string, sizeLimit = '256Mi') {
  return { name, emptyDir: { sizeLimit } };
}
