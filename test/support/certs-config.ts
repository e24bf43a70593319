import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type LoadedConfig, loadConfig } from '../../core/config/load.js';

/** A one-site tier4.yaml whose `tls` block the test chooses; returns its path and the loaded config. */
export async function certsConfig(
  tls: Record<string, unknown>,
  extra: { kubernetes?: Record<string, unknown>; owner?: string } = {},
): Promise<{ file: string; dir: string; loaded: LoadedConfig }> {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-certs-config-'));
  const file = join(dir, 'tier4.yaml');
  await writeFile(
    file,
    stringify({
      version: 1,
      deployment: { name: 'certs-test', ...(extra.owner ? { owner: extra.owner } : {}) },
      sites: {
        web: {
          role: 'demo',
          platform: 'kubernetes',
          primero: { url: 'https://primero.test', version: 'v2.15.2' },
          database: { url: 'postgres://primero@127.0.0.1/primero', password: { env: 'T4_CERTS_UNUSED' } },
          attachments: { type: 'local', path: '/srv/primero/storage' },
          tls,
          ...(extra.kubernetes ? { kubernetes: extra.kubernetes } : {}),
        },
      },
    }),
  );
  return { file, dir, loaded: loadConfig(file) };
}
