import { realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { demoStorageAccounts } from '../core/config/placement.js';
import { parseRepositoryUrl } from '../core/config/repository-url.js';
import type { SiteConfig, Tier4Config } from '../core/config/schema.js';
import { UsageError } from '../core/errors.js';
import type { DatabaseTarget } from '../core/postgres/connection.js';
import {
  type DatabaseSpot,
  databaseSpot,
  type ServerIdentity,
  serverIdentity,
  spotAddresses,
} from '../core/postgres/server-identity.js';
import { resolveSecret } from '../core/secrets.js';

/**
 * The rule the Tier 4 model rests on: the demo site never holds real data. Before a restore or a drill
 * touches anything, this decides whether its target is the demo site's (refused, whatever the options), and
 * for a production set whether the target is production's own database, a scratch database on a production
 * server, or somewhere else (allowed only with --allow-non-production-target and a typed confirmation).
 */

export type TargetKind = 'production' | 'scratch' | 'non-production' | 'demo-own';

export interface TargetVerdict {
  kind: TargetKind;
  /** How the comparison was made, e.g. why a server's identity could not be read. For the operator. */
  notes: string[];
}

/** Refused because the target is the demo site's: exit 2, nothing touched, no option overrides it. */
export class DemoTargetRefused extends UsageError {}

interface Place {
  label: string;
  spot: DatabaseSpot;
  addresses: Set<string>;
  identity: ServerIdentity;
}

async function place(label: string, target: DatabaseTarget, env: NodeJS.ProcessEnv): Promise<Place> {
  const spot = databaseSpot(target.url, env);
  return {
    label,
    spot,
    addresses: await spotAddresses(spot),
    identity: await serverIdentity(target),
  };
}

/** A site's database, with its password when this machine has it (otherwise only its address is compared). */
async function sitePlace(
  label: string,
  url: string,
  password: SiteConfig['database']['password'] | undefined,
  env: NodeJS.ProcessEnv,
): Promise<Place> {
  let secret: string | undefined;
  try {
    secret = password ? resolveSecret(password, env) : undefined;
  } catch {
    secret = undefined;
  }
  if (secret === undefined) {
    const spot = databaseSpot(url, env);
    return {
      label,
      spot,
      addresses: await spotAddresses(spot),
      identity: { problem: 'its database password is not available here' },
    };
  }
  return place(label, { url, password: secret }, env);
}

function sameServer(a: Place, b: Place, notes: string[]): boolean {
  if ('id' in a.identity && 'id' in b.identity) {
    if (a.identity.id === b.identity.id) return true;
  } else {
    const why = 'problem' in a.identity ? `${a.label}: ${a.identity.problem}` : '';
    const why2 = 'problem' in b.identity ? `${b.label}: ${b.identity.problem}` : '';
    notes.push(
      `Compared ${a.label} with ${b.label} by address and port only; the servers' system identifiers could not both be read (${[why, why2].filter(Boolean).join('; ')}).`,
    );
  }
  // The same address and port is the same server even when the identities say otherwise: pg_restore (libpq)
  // may reach a server tier4's own client did not (PGHOST, ?host=), and every reading counts.
  return [...a.addresses].some((address) => b.addresses.has(address));
}

function sameDatabase(a: Place, b: Place, notes: string[]): boolean {
  return sameServer(a, b, notes) && a.spot.databases.some((name) => b.spot.databases.includes(name));
}

function refuse(what: string, demo: string, notes: string[] = []): never {
  throw new DemoTargetRefused(
    [
      `${what} is the demo site "${demo}"'s. The demo site never holds real data, so tier4 never restores into it; nothing was touched.`,
      ...unique(notes),
    ].join('\n'),
    'Restore into a production database or a new scratch database on a production server. No option overrides this.',
  );
}

/**
 * Checks a restore target (the database URL) or a drill's server (the URL of any database on it) against every
 * site in the configuration. Throws DemoTargetRefused for demo's database, or a server only demo sites use.
 */
export async function checkDatabaseTarget(
  config: Tier4Config,
  origin: string,
  target: DatabaseTarget,
  options: { drill?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<TargetVerdict> {
  const env = options.env ?? process.env;
  const notes: string[] = [];
  const label = options.drill ? 'the drill server' : 'the target database';
  const targetPlace = await place(label, target, env);
  const sites = Object.entries(config.sites);
  const originRole = config.sites[origin]?.role;
  const demos = sites.filter(([name, site]) => site.role === 'demo' && name !== origin);
  const productions = sites.filter(([, site]) => site.role === 'production');

  const productionPlaces: Place[] = [];
  const productionServers: Place[] = [];
  const needProductions = demos.length > 0 || originRole === 'production';
  if (needProductions) {
    for (const [name, site] of productions) {
      const own = await sitePlace(`site ${name}'s database`, site.database.url, site.database.password, env);
      productionPlaces.push(own);
      productionServers.push(own);
      if (site.drills?.server)
        productionServers.push(
          await sitePlace(
            `site ${name}'s drill server`,
            site.drills.server,
            site.drills.password ?? site.database.password,
            env,
          ),
        );
    }
  }
  for (const [name, site] of demos) {
    const demo = await sitePlace(
      `demo site ${name}'s database`,
      site.database.url,
      site.database.password,
      env,
    );
    if (sameDatabase(targetPlace, demo, notes))
      refuse(`The ${options.drill ? 'drill server' : 'target'} database`, name, notes);
    if (
      sameServer(targetPlace, demo, notes) &&
      !productionServers.some((p) => sameServer(targetPlace, p, []))
    ) {
      refuse(`The ${options.drill ? 'drill' : 'target'} database server`, name, notes);
    }
  }
  if (originRole === 'demo') return { kind: 'demo-own', notes: unique(notes) };
  if (options.drill) return { kind: 'scratch', notes: unique(notes) };
  if (productionPlaces.some((p) => sameDatabase(targetPlace, p, notes)))
    return { kind: 'production', notes: unique(notes) };
  if (!needProductions) {
    for (const [name, site] of productions) {
      const own = await sitePlace(`site ${name}'s database`, site.database.url, site.database.password, env);
      if (sameDatabase(targetPlace, own, notes)) return { kind: 'production', notes: unique(notes) };
      productionServers.push(own);
    }
  }
  const onProductionServer = productionServers.some((p) => sameServer(targetPlace, p, notes));
  return { kind: onProductionServer ? 'scratch' : 'non-production', notes: unique(notes) };
}

function unique(notes: string[]): string[] {
  return [...new Set(notes)];
}

/** A folder's real path, also when it does not exist yet (the nearest existing parent is resolved). */
async function realFolder(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    const parent = dirname(absolute);
    if (parent === absolute) return absolute;
    return join(await realFolder(parent), basename(absolute));
  }
}

function overlaps(a: string, b: string): boolean {
  const inside = (child: string, parent: string) =>
    child === parent || child.startsWith(parent.endsWith(sep) ? parent : `${parent}${sep}`);
  return inside(a, b) || inside(b, a);
}

/**
 * Checks `--attachments-to` (a folder, file://, s3://bucket or azblob://account/container) against every demo
 * site's attachment storage: its folder (real paths, so a symlink or `..` does not hide it), its bucket, its
 * storage account. Throws DemoTargetRefused.
 */
export async function checkAttachmentsTarget(
  config: Tier4Config,
  origin: string,
  spec: string,
): Promise<void> {
  const parsed = spec.startsWith('/') ? { kind: 'file' as const, path: spec } : parseRepositoryUrl(spec);
  if (typeof parsed === 'string') return; // openBlobTarget reports the bad value
  const folder = parsed.kind === 'file' ? await realFolder(parsed.path) : undefined;
  for (const [name, site] of Object.entries(config.sites)) {
    if (site.role !== 'demo' || name === origin) continue;
    const storage = site.attachments;
    const what = `--attachments-to ${spec}`;
    if (folder && storage.type === 'local' && overlaps(folder, await realFolder(storage.path)))
      refuse(`${what} is inside or around a folder that`, name);
    if (parsed.kind === 's3' && storage.type === 's3' && parsed.bucket === storage.bucket)
      refuse(`${what}: the bucket`, name);
    if (parsed.kind === 'azblob' && demoStorageAccounts(config, name).includes(parsed.account))
      refuse(`${what}: the storage account`, name);
  }
}
