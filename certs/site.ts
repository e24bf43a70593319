import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { getSite, type LoadedConfig } from '../core/config/load.js';
import { DEFAULT_NAMESPACE, DEFAULT_NGINX_DEPLOYMENT, type SiteConfig } from '../core/config/schema.js';
import { type TlsSettings, tlsSettingsSchema } from '../core/config/tls.js';
import { UsageError } from '../core/errors.js';
import { trustAnchors } from './certificate.js';

/** Everything the certificate commands need to know about one site, with defaults filled in. */
export interface SiteTls {
  siteName: string;
  site: SiteConfig;
  tls: TlsSettings;
  /** The name clients use (SNI) and the certificate must cover. */
  host: string;
  /** host first, then tls.altNames. */
  names: string[];
  port: number;
  /** Where to connect: tls.connectAddress, else host. */
  address: string;
  /** Trusted CAs: tls.caFile plus the system store. */
  anchors: X509Certificate[];
  /** The Kubernetes namespace and kubeconfig context (sites.<name>.kubernetes). */
  namespace: string;
  context: string | undefined;
  deploymentName: string;
}

export function siteTls(loaded: LoadedConfig, siteName: string | undefined): SiteTls {
  const { name, site } = getSite(loaded.config, siteName);
  const tls = site.tls ?? tlsSettingsSchema.parse({});
  const host = tls.host ?? new URL(site.primero.url).hostname;
  let caPem: string | undefined;
  if (tls.caFile) {
    const caPath = resolve(loaded.baseDir, tls.caFile);
    try {
      caPem = readFileSync(caPath, 'utf8');
    } catch (error) {
      throw new UsageError(
        `sites.${name}.tls.caFile (${caPath}) cannot be read (${(error as NodeJS.ErrnoException).code}).`,
        'Point it at a PEM bundle of your CA certificates.',
      );
    }
  }
  const source = tls.source;
  return {
    siteName: name,
    site,
    tls,
    host,
    names: [...new Set([host, ...tls.altNames])],
    port: tls.port,
    address: tls.connectAddress ?? host,
    anchors: trustAnchors(caPem),
    namespace: site.kubernetes?.namespace ?? DEFAULT_NAMESPACE,
    context: site.kubernetes?.context,
    deploymentName: source && source.type !== 'files' ? source.deployment : DEFAULT_NGINX_DEPLOYMENT,
  };
}
