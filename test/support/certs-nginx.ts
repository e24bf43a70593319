import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { execa, type ResultPromise } from 'execa';
import { freePort } from '../../rehearsal/postgres-server.js';

/**
 * A real nginx (Debian's nginx-light) serving TLS on 127.0.0.1 from PEM files, with every path (pid, logs,
 * temp folders) inside its own temp dir. The master runs in the foreground as our child.
 */

export const NGINX = '/usr/sbin/nginx';
export const SNI_HOST = 'primero.test';

export interface RunningNginx {
  dir: string;
  port: number;
  certFile: string;
  keyFile: string;
  /** Sends the master a reload (SIGHUP through `nginx -s reload`). */
  reloadCommand: string;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The fingerprint the server settles on: asked until it is `expected` or `timeoutMs` has passed. Right after a
 * reload an old nginx worker may still take a connection and present the old certificate (nginx's graceful
 * shutdown of old workers), so a single ask races the reload; tier4 itself polls the same way.
 */
export async function settledFingerprint(port: number, expected: string, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const served = await servedFingerprint(port);
    if (served === expected || Date.now() > deadline) return served;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The leaf the server presents for SNI_HOST, as an uppercase colon SHA-256. */
export function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername: SNI_HOST, rejectUnauthorized: false },
      () => {
        const raw = socket.getPeerCertificate().raw;
        socket.end();
        resolvePromise(new X509Certificate(raw).fingerprint256);
      },
    );
    socket.once('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
  });
}

export async function startNginx(pair: { cert: string; key: string }): Promise<RunningNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-certs-nginx-'));
  const port = await freePort();
  const certDir = join(dir, 'ssl');
  await mkdir(certDir, { mode: 0o755 });
  await mkdir(join(dir, 'tmp'));
  const certFile = join(certDir, 'fullchain.pem');
  const keyFile = join(certDir, 'privkey.pem');
  await writeFile(certFile, pair.cert, { mode: 0o644 });
  await writeFile(keyFile, pair.key, { mode: 0o600 });
  const user = process.getuid?.() === 0 ? 'user root root;' : '';
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off;
master_process on;
worker_processes 1;
${user}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    server_name ${SNI_HOST};
    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    location / { return 200 "ok\\n"; }
  }
}
`,
  );
  const base = [NGINX, '-p', dir, '-c', conf, '-e', join(dir, 'error.log')];
  const child: ResultPromise = execa(base[0]!, base.slice(1), {
    reject: false,
    stdio: 'ignore',
    cleanup: true,
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`nginx exited early: ${log.slice(-2000)}`);
    }
    try {
      await servedFingerprint(port);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('nginx did not start within 15 s');
      await new Promise((resolvePromise) => setTimeout(resolvePromise, 100));
    }
  }
  return {
    dir,
    port,
    certFile,
    keyFile,
    reloadCommand: [...base, '-s', 'reload'].join(' '),
    errorLog: () => readFile(join(dir, 'error.log'), 'utf8'),
    async stop() {
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await child;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
