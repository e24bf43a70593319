import { userInfo } from 'node:os';
import pg from 'pg';
import { OperationError, Tier4Error } from '../errors.js';
import { tlsAttempts, tlsOptions, tlsRule, urlHost } from './tls.js';

/** A database to connect to: a URL without password (as in tier4.yaml) and the resolved password. */
export interface DatabaseTarget {
  url: string;
  password: string;
}

export function describeDatabase(url: string): string {
  const parsed = new URL(url);
  return `${parsed.username}@${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

/**
 * The database a URL names. Without one in the path, libpq takes PGDATABASE, else the user name (PostgreSQL 15
 * docs, libpq "Parameter Key Words", dbname: "Defaults to be the same as the user name"), which is URL's user,
 * else PGUSER, else the operating-system user. pg_dump and pg_restore read the same URL, so this must agree.
 */
export function databaseName(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const parsed = new URL(url);
  return decodeURIComponent(parsed.pathname.replace(/^\//, '')) || env.PGDATABASE || userName(parsed, env);
}

function userName(parsed: URL, env: NodeJS.ProcessEnv): string {
  const fromUrl = decodeURIComponent(parsed.username);
  if (fromUrl) return fromUrl;
  if (env.PGUSER) return env.PGUSER;
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? '';
  }
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/**
 * How to run pg_dump/pg_restore/psql against a target so that libpq follows the same TLS rule as our own
 * connection: the URL carries the effective sslmode (it wins over PGSSLMODE in libpq, so a `prefer` to another
 * machine reaches libpq as `require`), and PGSSLROOTCERT names the root file we verify with. The password goes
 * through the environment, never the command line.
 */
export function toolConnection(
  target: DatabaseTarget,
  env: NodeJS.ProcessEnv = process.env,
): { url: string; env: Record<string, string> } {
  const rule = tlsRule(target.url, env);
  const url = new URL(target.url);
  url.searchParams.set('sslmode', rule.mode);
  return {
    url: url.toString(),
    env: {
      PGPASSWORD: target.password,
      PGCONNECT_TIMEOUT: '15',
      PGAPPNAME: 'tier4',
      PGSSLMODE: rule.mode,
      ...(rule.rootCert && rule.rootCertPresent ? { PGSSLROOTCERT: rule.rootCert } : {}),
    },
  };
}

/**
 * node-postgres settings from the URL's parts, for one attempt (TLS or not; the first by default). Passing
 * `connectionString` would let the URL's empty password override the one we resolved, and node-postgres has
 * its own reading of sslmode; the TLS settings come from the one rule in tls.ts instead.
 */
export function clientConfig(
  target: DatabaseTarget,
  env: NodeJS.ProcessEnv = process.env,
  tls: boolean = tlsAttempts(tlsRule(target.url, env))[0]!,
): pg.ClientConfig {
  const url = new URL(target.url);
  const rule = tlsRule(target.url, env);
  return {
    host: urlHost(url),
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username) || userName(url, env),
    password: target.password,
    database: databaseName(target.url, env),
    application_name: 'tier4',
    connectionTimeoutMillis: 15_000,
    ssl: tls ? tlsOptions(rule) : false,
  };
}

/**
 * Opens a connection following the TLS rule, with libpq's second attempt for allow and prefer: only when the
 * first failed at TLS negotiation or was refused by the server, never after a network failure. Errors are
 * node-postgres' own; connectDatabase turns them into an operator's message.
 */
export async function openClient(
  target: DatabaseTarget,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<pg.Client> {
  const env = options.env ?? process.env;
  const attempts = tlsAttempts(tlsRule(target.url, env));
  let lastError: unknown;
  for (const [index, tls] of attempts.entries()) {
    const config = clientConfig(target, env, tls);
    if (options.timeoutMs !== undefined) config.connectionTimeoutMillis = options.timeoutMs;
    const client = new pg.Client(config);
    client.on('error', () => {
      // A dropped connection surfaces on the next query; the event itself must not crash the process.
    });
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      lastError = error;
      if (index === attempts.length - 1 || !worthAnotherAttempt(error)) break;
    }
  }
  throw lastError;
}

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** libpq tries the other way after a TLS failure or a server's refusal, not when the host cannot be reached. */
function worthAnotherAttempt(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e.code && NETWORK_ERRORS.has(e.code)) return false;
  return !/timeout/i.test(e.message ?? '');
}

export async function connectDatabase(target: DatabaseTarget): Promise<pg.Client> {
  try {
    return await openClient(target);
  } catch (error) {
    throw databaseError(error, target.url);
  }
}

/** A clear message for connection and authentication failures; never includes the password. */
export function databaseError(error: unknown, url: string): Tier4Error {
  if (error instanceof Tier4Error) return error;
  const where = describeDatabase(url);
  const e = error as { code?: string; message?: string };
  const tls = tlsError(e, url, where);
  if (tls) return tls;
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

/** TLS failures, said in the words of the rule: which mode asked for what, and the way out. */
function tlsError(
  e: { code?: string; message?: string },
  url: string,
  where: string,
): OperationError | undefined {
  const message = e.message ?? '';
  let rule: ReturnType<typeof tlsRule>;
  try {
    rule = tlsRule(url);
  } catch {
    return undefined;
  }
  const mode = `sslmode ${rule.mode}${rule.requested ? '' : ' (the default for this host)'}`;
  if (message.includes('does not support SSL')) {
    return new OperationError(
      `The database server ${where} does not support SSL (TLS), and ${mode} allows no plaintext connection.`,
      'Turn on ssl in the server, or, only on a trusted network, set sslmode=disable in the database URL.',
    );
  }
  if (e.code === '28000' && /no encryption/i.test(message)) {
    return new OperationError(
      `The database server ${where} refuses connections without TLS, and ${mode} did not encrypt.`,
      'Use sslmode=require or stronger (verify-full) in the database URL.',
    );
  }
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new OperationError(
      `The database server's certificate does not name the host of ${where} (${mode} checks the host name).`,
      'Connect by a name the certificate holds, or use sslmode=verify-ca to check the CA alone.',
    );
  }
  if (e.code && CERTIFICATE_ERRORS.has(e.code)) {
    if (!rule.rootCertPresent) {
      return new OperationError(
        `${mode} verifies the database server's certificate, but the root certificate file ${rule.rootCert ?? '(none)'} does not exist.`,
        'Name the CA file with sslrootcert=<file> in the database URL or PGSSLROOTCERT, or use sslmode=require to encrypt without verifying.',
      );
    }
    return new OperationError(
      `The database server's certificate for ${where} failed verification against ${rule.rootCert} (${mode}): ${message}`,
      'Check that sslrootcert (or PGSSLROOTCERT) names the CA that issued the server certificate, and that it is valid.',
    );
  }
  return undefined;
}

const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);
