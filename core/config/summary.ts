import type { Tier4Config } from './schema.js';

export interface SiteSummary {
  name: string;
  role: string;
  platform: string;
  primeroUrl: string;
  primeroVersion: string;
  /** user@host:port/database: never a password (the URL cannot hold one). */
  database: string;
  attachments: string;
  backups: string | null;
  rpo: string | null;
}

/** A short description of each site, safe to print: no secret is ever part of the configuration. */
export function summarizeConfig(config: Tier4Config): {
  deployment: string;
  sites: SiteSummary[];
  promotion: { from: string; to: string } | null;
} {
  const sites = Object.entries(config.sites).map(([name, site]): SiteSummary => {
    const db = new URL(site.database.url);
    const attachments =
      site.attachments.type === 'local'
        ? `local ${site.attachments.path}`
        : site.attachments.type === 's3'
          ? `s3 ${site.attachments.bucket}`
          : `azure ${site.attachments.account}/${site.attachments.container}`;
    return {
      name,
      role: site.role,
      platform: site.platform,
      primeroUrl: site.primero.url,
      primeroVersion: site.primero.version,
      database: `${db.username}@${db.hostname}:${db.port || '5432'}${db.pathname}`,
      attachments,
      backups: site.backups?.repository ?? null,
      rpo: site.backups?.rpo.text ?? null,
    };
  });
  return {
    deployment: config.deployment.name,
    sites,
    promotion: config.promotion ? { from: config.promotion.from, to: config.promotion.to } : null,
  };
}
