import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { freePort } from '../../rehearsal/postgres-server.js';
import { REPO_ROOT } from './cli.js';

export interface RunningServer {
  endpoint: string;
  stop(): Promise<void>;
}

async function waitForPort(url: string, child: ResultPromise, name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited early with code ${child.exitCode}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }
  throw new Error(`${name} did not start within 30 s`);
}

async function launch(name: string, args: string[], dir: string, port: number): Promise<RunningServer> {
  const child = execa(process.execPath, args, { cwd: dir, stdio: 'ignore', reject: false, cleanup: true });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitForPort(endpoint, child, name);
  return {
    endpoint,
    async stop() {
      child.kill('SIGTERM');
      await child;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * s3rver, an S3-compatible server, in its own process. It needs the legacy OpenSSL provider for paginated
 * listings, and clients must compute request checksums only "when required" (else it stores aws-chunked framing).
 */
export async function startS3rver(buckets: string[]): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-s3rver-'));
  const port = await freePort();
  const args = ['--openssl-legacy-provider', join(REPO_ROOT, 'node_modules/s3rver/bin/s3rver.js')];
  args.push('-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets');
  for (const bucket of buckets) args.push('--configure-bucket', bucket);
  return launch('s3rver', args, dir, port);
}

/** The Azurite blob emulator's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export async function startAzurite(): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-azurite-'));
  const port = await freePort();
  const server = await launch(
    'Azurite',
    [
      join(REPO_ROOT, 'node_modules/azurite/dist/src/blob/main.js'),
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      dir,
      '--silent',
      '--skipApiVersionCheck',
      '--disableTelemetry',
    ],
    dir,
    port,
  );
  // Azurite addresses accounts by path: http://127.0.0.1:port/devstoreaccount1
  return { ...server, endpoint: `${server.endpoint}/${AZURITE_ACCOUNT}` };
}
