import { posix } from 'node:path';
import type { AzureSettings } from './azure.js';
import { parseRepositoryUrl, type RepositoryLocation } from './repository-url.js';

/**
 * Real data stays in production: a production site's backups and attachments must never be stored on the demo
 * site's infrastructure (its Azure storage account, its bucket, its folder, its backup repository). These
 * checks run with `tier4 config validate` and every command that loads the configuration.
 */

/** Structural view of the configuration, so the schema can call this before its types exist. */
interface SiteLike {
  role: 'demo' | 'production';
  attachments:
    | { type: 'local'; path: string }
    | { type: 's3'; bucket: string; endpoint?: string | undefined }
    | { type: 'azure'; account: string; container: string };
  backups?: { repository: string; s3?: { endpoint?: string | undefined } | undefined } | undefined;
  azure?: AzureSettings | undefined;
}
interface ConfigLike {
  deployment: { name: string };
  sites: Record<string, SiteLike>;
}

export interface PlacementIssue {
  path: Array<string | number>;
  message: string;
}

/** The storage account the Azure demo stack creates for a site: azure.storage.accountName, else st<deployment><site>. */
export function siteStorageAccount(deployment: string, site: string, azure: AzureSettings): string {
  return azure.storage.accountName ?? `st${`${deployment}-${site}`.replace(/[^a-z0-9]/g, '')}`.slice(0, 24);
}

/** Every Azure storage account that belongs to a demo site: the stack's, its attachments', its repository's, its Terraform state's. */
export function demoStorageAccounts(config: ConfigLike, demo: string): string[] {
  const site = config.sites[demo];
  if (!site) return [];
  const accounts = new Set<string>();
  if (site.azure) {
    accounts.add(siteStorageAccount(config.deployment.name, demo, site.azure));
    if (site.azure.state.backend === 'azurerm') accounts.add(site.azure.state.storageAccount);
  }
  if (site.attachments.type === 'azure') accounts.add(site.attachments.account);
  const repository = site.backups ? parseRepositoryUrl(site.backups.repository) : undefined;
  if (repository && typeof repository !== 'string' && repository.kind === 'azblob')
    accounts.add(repository.account);
  return [...accounts];
}

/** A storage place as comparable segments: kind, service, bucket or container, then the path inside it. */
function segments(location: RepositoryLocation, s3Endpoint?: string): string[] {
  switch (location.kind) {
    case 'file':
      return ['file', ...posix.normalize(location.path).split('/').filter(Boolean)];
    case 's3':
      return ['s3', endpointKey(s3Endpoint), location.bucket, ...location.prefix.split('/').filter(Boolean)];
    case 'azblob':
      return ['azblob', location.account, location.container, ...location.prefix.split('/').filter(Boolean)];
  }
}

/** S3 without an endpoint is AWS; bucket names are only unique per service. */
function endpointKey(endpoint: string | undefined): string {
  if (!endpoint) return 'aws';
  try {
    const url = new URL(endpoint);
    return `${url.hostname.toLowerCase()}:${url.port || (url.protocol === 'http:' ? '80' : '443')}`;
  } catch {
    return endpoint.toLowerCase();
  }
}

/** One is the other, or inside it. */
function nested(a: string[], b: string[]): boolean {
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.every((segment, i) => long[i] === segment);
}

function attachmentSegments(attachments: SiteLike['attachments']): string[] {
  switch (attachments.type) {
    case 'local':
      return segments({ kind: 'file', path: attachments.path });
    case 's3':
      return segments({ kind: 's3', bucket: attachments.bucket, prefix: '' }, attachments.endpoint);
    case 'azure':
      return segments({
        kind: 'azblob',
        account: attachments.account,
        container: attachments.container,
        prefix: '',
      });
  }
}

function repositorySegments(site: SiteLike): string[] | undefined {
  if (!site.backups) return undefined;
  const parsed = parseRepositoryUrl(site.backups.repository);
  return typeof parsed === 'string' ? undefined : segments(parsed, site.backups.s3?.endpoint);
}

const WHY = "real data would be stored on the demo site's infrastructure";

export function placementIssues(config: ConfigLike): PlacementIssue[] {
  const issues: PlacementIssue[] = [];
  const sites = Object.entries(config.sites);
  for (const [prodName, prod] of sites.filter(([, site]) => site.role === 'production')) {
    const repository = repositorySegments(prod);
    const attachments = attachmentSegments(prod.attachments);
    for (const [demoName, demo] of sites.filter(([, site]) => site.role === 'demo')) {
      const accounts = demoStorageAccounts(config, demoName);
      const demoPlaces = [
        { what: 'backup repository', at: repositorySegments(demo) },
        { what: 'attachment storage', at: attachmentSegments(demo.attachments) },
      ];
      // A production store on one of demo's storage accounts, or overlapping one of demo's places, is refused.
      const check = (path: string[], at: string[], overlap: (what: string) => string) => {
        if (at[0] === 'azblob' && accounts.includes(at[1]!)) {
          issues.push({
            path,
            message: `is on demo site ${demoName}'s Azure storage account "${at[1]}": ${WHY}`,
          });
          return;
        }
        for (const place of demoPlaces) {
          if (place.at && nested(at, place.at))
            issues.push({ path, message: `${overlap(place.what)}: ${WHY}` });
        }
      };
      if (repository)
        check(
          ['sites', prodName, 'backups', 'repository'],
          repository,
          (what) =>
            `shares a location with demo site ${demoName}'s ${what} (the same place, or one inside the other)`,
        );
      check(
        ['sites', prodName, 'attachments'],
        attachments,
        (what) => `is demo site ${demoName}'s ${what}, or overlaps it`,
      );
    }
  }
  return issues;
}
