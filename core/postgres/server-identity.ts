import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type pg from 'pg';
import { errorMessage } from '../errors.js';
import { type DatabaseTarget, databaseName, openClient, withDatabase } from './connection.js';

/**
 * Where a postgres:// URL leads, spelled in one way: which hosts, ports and database names it can reach. Two
 * programs read a URL: tier4's own client (node-postgres, through clientConfig) and pg_restore (libpq). They
 * differ, so every reading either could make is kept:
 * - libpq lets query parameters `host`, `hostaddr`, `port`, `dbname` and `user` override the URL's own parts,
 *   and falls back to PGHOST, PGPORT, PGDATABASE, PGUSER, then the Unix socket, port 5432 and a database named
 *   after the user (PostgreSQL 15 docs, libpq "Connection URIs" 34.1.1.2 and "Environment Variables" 34.15);
 * - clientConfig takes the URL's host (else `?host=`, else localhost), its port (else 5432) and its path
 *   (else, as libpq, PGDATABASE, else the user name: databaseName).
 */
export interface DatabaseSpot {
  /** host (a name, an address or a socket folder) and port pairs. */
  endpoints: Array<{ host: string; port: number }>;
  databases: string[];
}

const LIBPQ_DEFAULT_PORT = 5432;

export function databaseSpot(url: string, env: NodeJS.ProcessEnv = {}): DatabaseSpot {
  const parsed = new URL(url);
  const params = parsed.searchParams;
  const netlocHost = decodeURIComponent(parsed.hostname).replace(/^\[|\]$/g, '');
  const hosts = new Set<string>();
  if (netlocHost) hosts.add(netlocHost);
  for (const key of ['host', 'hostaddr']) {
    for (const value of params.getAll(key)) for (const h of value.split(',')) if (h) hosts.add(h);
  }
  if (!netlocHost && !params.get('host') && !params.get('hostaddr')) {
    hosts.add(env.PGHOST || '/unix-socket');
    hosts.add('localhost');
  }
  const ports = new Set<number>([Number(parsed.port || LIBPQ_DEFAULT_PORT)]);
  const libpqPort = params.get('port') || (parsed.port ? '' : env.PGPORT);
  if (libpqPort) ports.add(Number(libpqPort));
  const user = params.get('user') || decodeURIComponent(parsed.username) || env.PGUSER || '';
  const path = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  const databases = new Set<string>([databaseName(url, env)]);
  databases.add(params.get('dbname') || path || env.PGDATABASE || user);
  return {
    endpoints: [...hosts].flatMap((host) => [...ports].map((port) => ({ host, port }))),
    databases: [...databases].filter(Boolean),
  };
}

/** This machine, however it is addressed: loopback, the unspecified address, a socket, or any local interface. */
function isThisMachine(address: string): boolean {
  if (address.startsWith('127.') || address === '::1' || address === '0.0.0.0' || address === '::')
    return true;
  return Object.values(networkInterfaces())
    .flat()
    .some((nic) => nic?.address.toLowerCase() === address);
}

function normalizeAddress(address: string): string {
  const plain = address.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
  return isThisMachine(plain) ? 'this-machine' : plain;
}

/**
 * Every address a host name resolves to (dns.lookup with all: true, as the OS resolver answers: /etc/hosts
 * first), so `localhost`, `127.0.0.1` and `::1` are one host. A name that does not resolve stays a name.
 */
export async function hostAddresses(host: string): Promise<string[]> {
  if (host.startsWith('/')) return ['this-machine'];
  if (isIP(host)) return [normalizeAddress(host)];
  try {
    const found = await lookup(host, { all: true });
    return [...new Set(found.map((entry) => normalizeAddress(entry.address)))];
  } catch {
    return [`name:${host.toLowerCase().replace(/\.$/, '')}`];
  }
}

/** address:port strings a spot can reach. */
export async function spotAddresses(spot: DatabaseSpot): Promise<Set<string>> {
  const out = new Set<string>();
  for (const { host, port } of spot.endpoints)
    for (const address of await hostAddresses(host)) out.add(`${address}|${port}`);
  return out;
}

/** The server's own identity, or why it could not be read. */
export type ServerIdentity = { id: string } | { problem: string };

/**
 * PostgreSQL's system identifier (pg_control_system(), PostgreSQL 15 docs "System Information Functions",
 * table "Control Data Functions"): set by initdb, the same for a cluster however it is reached (and for its
 * physical replicas). On PostgreSQL 15 any role may call it unless an administrator revoked it; a refusal
 * (permission denied) is reported as a problem, and the caller compares addresses instead.
 */
export async function serverIdentity(target: DatabaseTarget, timeoutMs = 10_000): Promise<ServerIdentity> {
  let lastProblem = 'not reachable';
  // The named database may not exist yet (a restore target): then any database on the server will do.
  for (const url of [target.url, withDatabase(target.url, 'postgres')]) {
    let client: pg.Client | undefined;
    try {
      client = await openClient({ ...target, url }, { timeoutMs });
      const { rows } = await client.query<{ id: string }>(
        'SELECT system_identifier::text AS id FROM pg_control_system()',
      );
      return { id: rows[0]!.id };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '42501')
        return { problem: 'permission denied for pg_control_system() (grant EXECUTE on it, or pg_monitor)' };
      lastProblem = code === '3D000' ? 'database does not exist' : errorMessage(error).split('\n')[0]!;
      if (code !== '3D000') break;
    } finally {
      await client?.end().catch(() => undefined);
    }
  }
  return { problem: lastProblem };
}
