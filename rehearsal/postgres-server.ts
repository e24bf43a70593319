import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { OperationError } from '../core/errors.js';

/**
 * A throwaway PostgreSQL server from the system binaries: its own temp dir, 127.0.0.1 on a free port,
 * its own socket dir, password authentication. For tests, benchmarks and the local rehearsal.
 */
export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  password: string;
  dir: string;
  binDir: string;
  /** postgres://user@host:port/db: without the password, as tier4.yaml wants it. */
  url(database: string): string;
  stop(): Promise<void>;
}

export function postgresBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env.TIER4_PG_BIN, '/usr/lib/postgresql/15/bin'].filter(Boolean) as string[];
  for (const dir of candidates) if (existsSync(join(dir, 'pg_ctl'))) return dir;
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  } catch {
    throw new OperationError(
      'PostgreSQL 15 server binaries were not found.',
      'Install postgresql-15 (Debian) or set TIER4_PG_BIN to the folder holding pg_ctl.',
    );
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** PostgreSQL refuses to run as root; when we are root, run its programs as the postgres user. */
function asServerUser(bin: string, args: string[]): [string, string[]] {
  if (process.getuid?.() === 0) return ['runuser', ['-u', 'postgres', '--', bin, ...args]];
  return [bin, args];
}

export interface StartOptions {
  password: string;
  user?: string;
  /** Turn TLS on with this server certificate chain and key (PEM); off by default. */
  tls?: { cert: string; key: string };
  /** pg_hba.conf lines put before initdb's own (the first matching line decides). */
  hbaFirst?: string[];
}

export async function startPostgres(options: StartOptions): Promise<PostgresServer> {
  const binDir = postgresBinDir();
  const user = options.user ?? 'tier4';
  const dir = await mkdtemp(join(tmpdir(), 'tier4-pg-'));
  const dataDir = join(dir, 'data');
  const pwFile = join(dir, 'pw');
  await writeFile(pwFile, `${options.password}\n`, { mode: 0o600 });
  // The server refuses a key file others may read (PostgreSQL docs "Secure TCP/IP Connections with SSL").
  if (options.tls) {
    await writeFile(join(dir, 'server.crt'), options.tls.cert, { mode: 0o600 });
    await writeFile(join(dir, 'server.key'), options.tls.key, { mode: 0o600 });
  }
  const tlsSettings = options.tls
    ? ` -c ssl=on -c ssl_cert_file=${join(dir, 'server.crt')} -c ssl_key_file=${join(dir, 'server.key')}`
    : '';
  if (process.getuid?.() === 0) {
    await chmod(dir, 0o755);
    execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  }
  const run = (bin: string, args: string[]) => {
    const [command, argv] = asServerUser(join(binDir, bin), args);
    return execa(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  };
  try {
    await run('initdb', [
      '-D',
      dataDir,
      '-U',
      user,
      `--pwfile=${pwFile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=scram-sha-256',
      '-E',
      'UTF8',
      '--no-locale',
      '--no-sync',
    ]);
  } finally {
    await rm(pwFile, { force: true });
  }
  if (options.hbaFirst) {
    // Rewriting the existing file keeps its owner (the server's user).
    const hba = join(dataDir, 'pg_hba.conf');
    await writeFile(hba, `${options.hbaFirst.join('\n')}\n${await readFile(hba, 'utf8')}`);
  }
  let port = 0;
  for (let attempt = 0; ; attempt += 1) {
    port = await freePort();
    try {
      await run('pg_ctl', [
        '-D',
        dataDir,
        '-l',
        join(dir, 'server.log'),
        '-w',
        '-t',
        '60',
        '-o',
        // Throwaway server: durability settings off for speed.
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60${tlsSettings}`,
        'start',
      ]);
      break;
    } catch {
      if (attempt >= 2) {
        const log = await readFile(join(dir, 'server.log'), 'utf8').catch(() => '');
        await rm(dir, { recursive: true, force: true });
        throw new OperationError(
          `The throwaway PostgreSQL server did not start: ${log.split('\n').slice(-5).join(' ')}`,
        );
      }
    }
  }
  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    try {
      const [command, argv] = asServerUser(join(binDir, 'pg_ctl'), [
        '-D',
        dataDir,
        '-m',
        'immediate',
        'stop',
      ]);
      execFileSync(command, argv, { stdio: 'ignore' });
    } catch {}
  };
  process.once('exit', stopSync);
  return {
    host: '127.0.0.1',
    port,
    user,
    password: options.password,
    dir,
    binDir,
    url: (database) => `postgres://${user}@127.0.0.1:${port}/${database}`,
    async stop() {
      if (!stopped) {
        stopped = true;
        process.removeListener('exit', stopSync);
        await run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
