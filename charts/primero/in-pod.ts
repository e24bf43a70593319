import type { SiteConfig } from '../../core/config/schema.js';

/**
 * Settings that are fine on a laptop but cannot exist inside the site's pods, where the ops jobs run:
 * there `localhost` is the pod itself, `/tmp` is an emptyDir that vanishes with the pod, and a file://
 * repository is a folder in the job's own filesystem. `tier4 site render` refuses them and
 * `tier4 config validate` reports them for every site that runs on Kubernetes, each naming its field.
 */

export interface InPodIssue {
  /** Dotted path of the field, from sites.<name>. */
  path: string;
  message: string;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1|0\.0\.0\.0)$/i;

/** A site runs on Kubernetes when its platform is, or when it has a kubernetes block (demo on AKS). */
export function runsOnKubernetes(site: SiteConfig): boolean {
  return site.platform === 'kubernetes' || site.kubernetes !== undefined;
}

function loopbackHost(url: string): string | undefined {
  try {
    const host = new URL(url).hostname;
    return LOOPBACK.test(host) ? host : undefined;
  } catch {
    return undefined;
  }
}

function underTmp(path: string): boolean {
  return path === '/tmp' || path.startsWith('/tmp/') || path === '/var/tmp' || path.startsWith('/var/tmp/');
}

export function inPodIssues(siteName: string, site: SiteConfig): InPodIssue[] {
  const at = (field: string) => `sites.${siteName}.${field}`;
  const issues: InPodIssue[] = [];
  const dbHost = loopbackHost(site.database.url);
  if (dbHost) {
    issues.push({
      path: at('database.url'),
      message: `names ${dbHost}, which inside a pod is the pod itself: use the database's in-cluster Service (e.g. primero-db-rw.<namespace>.svc) or its network name`,
    });
  }
  const drillServer = site.drills?.server;
  const drillHost = drillServer ? loopbackHost(drillServer) : undefined;
  if (drillHost) {
    issues.push({
      path: at('drills.server'),
      message: `names ${drillHost}, which inside the drill pod is the pod itself: use the scratch server's Service`,
    });
  }
  const repository = site.backups?.repository;
  if (repository?.startsWith('file://')) {
    issues.push({
      path: at('backups.repository'),
      message: `is a folder (${repository}) in the backup pod's own filesystem${underTmp(repository.slice(7)) ? ', an emptyDir deleted with the pod' : ''}, so nothing would be kept: use an object store (s3:// or azblob://)`,
    });
  }
  if (site.attachments.type === 'local' && underTmp(site.attachments.path)) {
    issues.push({
      path: at('attachments.path'),
      message: `is under ${site.attachments.path.startsWith('/var/') ? '/var/tmp' : '/tmp'}, a scratch folder in the pods: use Primero's storage path (/srv/primero/application/storage), which the chart mounts from the attachments volume`,
    });
  }
  if (site.tls?.source?.type === 'files') {
    issues.push({
      path: at('tls.source'),
      message:
        'is "files", which is for VM installs; on Kubernetes nginx reads a Secret: use {type: kubernetes-secret, secret: NAME} or {type: cert-manager, ...}',
    });
  }
  // CloudNativePG creates the application owner with LOGIN only (cloudnative-pg pkg/management/postgres/
  // initdb.go), so a drill against the primary cannot create its scratch database, and would load the
  // primary if it could: production on Kubernetes restores drills into a server of their own.
  if (site.role === 'production' && site.backups?.encryption.identity && !drillServer) {
    issues.push({
      path: at('drills.server'),
      message:
        'is required for a production site on Kubernetes: a drill must not restore into the primary. tier4 site render adds a scratch server (CloudNativePG cluster <cluster>-drill); point drills.server at it, e.g. postgres://postgres@primero-db-drill-rw.primero.svc:5432/postgres?sslmode=verify-full&sslrootcert=/etc/tier4-drill-db-ca/ca.crt, with drills.password {file: /var/run/secrets/tier4-drill-db/password}',
    });
  }
  return issues;
}
