import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { errorMessage, UsageError } from '../errors.js';

/**
 * The one TLS rule for every connection tier4 makes to PostgreSQL: its own (node-postgres) and those of the
 * PostgreSQL programs it runs (pg_dump, pg_restore, psql: libpq). ADR 0014 says why it reads as it does.
 *
 * Facts from the PostgreSQL 15 libpq documentation ("SSL Support", table "SSL Mode Descriptions", and
 * "Parameter Key Words" sslmode/sslrootcert; "Environment Variables" PGSSLMODE/PGSSLROOTCERT):
 * - disable: plaintext only; allow: plaintext first, TLS if that fails; prefer (libpq's default): TLS first,
 *   plaintext if that fails; require: TLS only; verify-ca: TLS, the server certificate must chain to a trusted
 *   root; verify-full: verify-ca and the host name must match the certificate.
 * - require with a root certificate file present verifies the chain as verify-ca does (kept for backward
 *   compatibility); verify-ca/verify-full without the file fail ("root certificate file ... does not exist").
 * - The root file is sslrootcert, else PGSSLROOTCERT, else ~/.postgresql/root.crt (%APPDATA%\postgresql\root.crt
 *   on Windows); sslmode comes from the URL, else PGSSLMODE. PostgreSQL 15 has no "system" store.
 * - sslmode is ignored on a Unix-domain socket: no TLS there.
 *
 * tier4's own choices (ADR 0014): without any sslmode, a host that is not this machine gets verify-full (a
 * local one gets libpq's prefer); `prefer` to another machine is enforced as `require`, because its plaintext
 * fallback is exactly what a man in the middle answering "no TLS" would get. The same effective mode and root
 * file are handed to libpq (toolConnection), so a backup, a drill and a promotion reach a database alike.
 */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface TlsRule {
  /** What the URL's sslmode (or PGSSLMODE) asked for; undefined when nothing did. */
  requested: SslMode | undefined;
  /** What tier4 does and hands to libpq. */
  mode: SslMode;
  /** A Unix-domain socket: no TLS whatever the mode, as libpq. */
  socket: boolean;
  /** This machine (loopback name or address, or a socket). */
  local: boolean;
  /** The root certificate file libpq would use (it may not exist). */
  rootCert: string | undefined;
  /** Whether that file exists: then every TLS attempt verifies the chain, as libpq does. */
  rootCertPresent: boolean;
  /** Where rootCert came from: the URL, PGSSLROOTCERT, or libpq's default location. */
  rootCertFrom: 'url' | 'env' | 'default' | undefined;
}

/** The host a URL names, as the connector reads it: the URL's host, else `?host=`, else localhost. */
export function urlHost(url: URL): string {
  return decodeURIComponent(url.hostname) || url.searchParams.get('host') || 'localhost';
}

/** Loopback names and addresses, and a socket folder: traffic that never leaves this machine. */
export function isLocalHost(host: string): boolean {
  const plain = host.replace(/^\[|\]$/g, '').toLowerCase();
  return plain === 'localhost' || plain.startsWith('127.') || plain === '::1' || plain.startsWith('/');
}

/** libpq's default root certificate file: in the home directory of the user running it. */
export function defaultRootCert(env: NodeJS.ProcessEnv): string | undefined {
  if (process.platform === 'win32')
    return env.APPDATA ? join(env.APPDATA, 'postgresql', 'root.crt') : undefined;
  // libpq 15 takes the home directory from the password database (getpwuid), not from $HOME.
  try {
    return join(userInfo().homedir, '.postgresql', 'root.crt');
  } catch {
    return undefined;
  }
}

export function tlsRule(databaseUrl: string, env: NodeJS.ProcessEnv = process.env): TlsRule {
  const url = new URL(databaseUrl);
  const asked = url.searchParams.get('sslmode') ?? (env.PGSSLMODE || null);
  if (asked !== null && !(SSL_MODES as readonly string[]).includes(asked)) {
    throw new UsageError(
      `The database sslmode "${asked}" is not one of ${SSL_MODES.join(', ')}.`,
      'Fix sslmode in the database URL (or PGSSLMODE).',
    );
  }
  const requested = (asked ?? undefined) as SslMode | undefined;
  const host = urlHost(url);
  const socket = host.startsWith('/');
  const local = isLocalHost(host);
  let mode: SslMode = requested ?? (local ? 'prefer' : 'verify-full');
  if (mode === 'prefer' && !local) mode = 'require';
  const fromUrl = url.searchParams.get('sslrootcert');
  const fromEnv = env.PGSSLROOTCERT || undefined;
  const rootCert = fromUrl ?? fromEnv ?? defaultRootCert(env);
  const rootCertFrom = fromUrl ? 'url' : fromEnv ? 'env' : rootCert ? 'default' : undefined;
  return {
    requested,
    mode,
    socket,
    local,
    rootCert,
    rootCertPresent: rootCert !== undefined && existsSync(rootCert),
    rootCertFrom,
  };
}

/** The modes that never send anything in plaintext. */
export function tlsRequired(rule: TlsRule): boolean {
  return !rule.socket && ['require', 'verify-ca', 'verify-full'].includes(rule.mode);
}

/**
 * The node-postgres `ssl` settings of one TLS attempt. The chain is verified whenever libpq would: in the
 * verify modes, and in any mode when the root file exists. A verify mode without the file trusts nothing (an
 * empty CA list), so the attempt fails at the handshake as libpq's does, after the server said it speaks TLS.
 */
export function tlsOptions(rule: TlsRule): {
  rejectUnauthorized: boolean;
  ca?: string | string[];
  checkServerIdentity?: () => undefined;
} {
  const verifyMode = rule.mode === 'verify-ca' || rule.mode === 'verify-full';
  const verifyChain = verifyMode || rule.rootCertPresent;
  if (!verifyChain) return { rejectUnauthorized: false };
  return {
    rejectUnauthorized: true,
    ca: rule.rootCertPresent ? readRootCert(rule.rootCert!) : [],
    // Only verify-full compares the host name with the certificate.
    ...(rule.mode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
  };
}

function readRootCert(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `Cannot read the database root certificate ${path}: ${errorMessage(error)}`,
      'Check sslrootcert in the database URL (or PGSSLROOTCERT).',
    );
  }
}

/**
 * The order of attempts, true for TLS. allow and prefer try twice, as libpq does; the second attempt is made
 * only when the first failed at TLS negotiation or the server refused it (see connection.ts).
 */
export function tlsAttempts(rule: TlsRule): boolean[] {
  if (rule.socket || rule.mode === 'disable') return [false];
  if (rule.mode === 'allow') return [false, true];
  if (rule.mode === 'prefer') return [true, false];
  return [true];
}
