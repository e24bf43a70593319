import { readFileSync } from 'node:fs';
import pg from 'pg';
import { OperationError } from '../errors.js';

/** A database to connect to: a URL without password (as in tier4.yaml) and the resolved password. */
export interface DatabaseTarget {
  url: string;
  password: string;
}

export function describeDatabase(url: string): string {
  const parsed = new URL(url);
  return `${parsed.username}@${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** Environment for pg_dump/pg_restore: the password goes through the environment, never the command line. */
export function pgToolEnv(target: DatabaseTarget): Record<string, string> {
  return { PGPASSWORD: target.password, PGCONNECT_TIMEOUT: '15', PGAPPNAME: 'tier4' };
}

/**
 * node-postgres settings from the URL's parts. (Passing `connectionString` would let the URL's empty password
 * override the one we resolved.) sslmode follows libpq: disable, prefer/require (encrypt, no verification),
 * verify-ca/verify-full (verify against the system CAs or sslrootcert). The root certificate is found as libpq
 * finds it (libpq "Environment Variables": the URL's sslrootcert, else PGSSLROOTCERT), so a pod that mounts its
 * database CA and sets PGSSLROOTCERT for pg_dump trusts the same CA here.
 */
export function clientConfig(target: DatabaseTarget, env: NodeJS.ProcessEnv = process.env): pg.ClientConfig {
  const url = new URL(target.url);
  const params = url.searchParams;
  const sslmode = params.get('sslmode') ?? 'prefer';
  const verify = sslmode === 'verify-full' || sslmode === 'verify-ca';
  const rootCert = params.get('sslrootcert') ?? (env.PGSSLROOTCERT || null);
  return {
    host: decodeURIComponent(url.hostname) || params.get('host') || 'localhost',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: target.password,
    database: databaseName(target.url),
    application_name: 'tier4',
    connectionTimeoutMillis: 15_000,
    ssl:
      sslmode === 'disable' || sslmode === 'allow' || (sslmode === 'prefer' && isLoopback(url.hostname))
        ? false
        : {
            rejectUnauthorized: verify,
            ...(rootCert ? { ca: readFileSync(rootCert, 'utf8') } : {}),
            ...(sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
          },
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]';
}

export async function connectDatabase(target: DatabaseTarget): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(target));
  client.on('error', () => {
    // A dropped connection surfaces on the next query; the event itself must not crash the process.
  });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw databaseError(error, target.url);
  }
  return client;
}

/** A clear message for connection and authentication failures; never includes the password. */
export function databaseError(error: unknown, url: string): OperationError {
  const where = describeDatabase(url);
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case 'ECONNREFUSED':
      return new OperationError(
        `Cannot connect to the database ${where}: connection refused.`,
        'Check that PostgreSQL is running and that database.url names the right host and port.',
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new OperationError(`Cannot resolve the database host of ${where}.`, 'Check database.url.');
    case 'ETIMEDOUT':
      return new OperationError(
        `Connecting to the database ${where} timed out.`,
        'Check the network path and firewall.',
      );
    case '28P01':
    case '28000':
      return new OperationError(
        `The database refused the credentials for ${where}.`,
        'Check the user in database.url and the secret that database.password points to.',
      );
    case '3D000':
      return new OperationError(
        `The database ${where} does not exist.`,
        'Check the database name in database.url.',
      );
    default:
      return new OperationError(`Database error on ${where}: ${e.message ?? String(error)}`);
  }
}
