import { existsSync } from 'node:fs';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { certsConfig } from '../support/certs-config.js';
import { tier4 } from '../support/cli.js';

describe('tier4 certs csr: where the private key goes', () => {
  test('by default into $HOME/.tier4/keys (made 0700), not the current folder', async () => {
    const { file, dir } = await certsConfig({ host: 'primero.test' });
    const home = await mkdtemp(join(tmpdir(), 'tier4-home-'));
    const result = await tier4(['--json', 'certs', 'csr', '-c', file], { env: { HOME: home }, cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    const keys = join(home, '.tier4', 'keys');
    expect(JSON.parse(result.stdout).keyFile).toBe(join(keys, 'primero.test.key'));
    expect((await stat(keys)).mode & 0o777).toBe(0o700);
    expect((await stat(join(keys, 'primero.test.key'))).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'primero.test.key'))).toBe(false);
  });

  test('a missing --out-dir is created; one that cannot be is explained, not a bare ENOENT', async () => {
    const { file, dir } = await certsConfig({ host: 'primero.test' });
    const made = await tier4(['certs', 'csr', '-c', file, '--out-dir', join(dir, 'new', 'keys')]);
    expect(made.code, made.stderr).toBe(0);
    expect(existsSync(join(dir, 'new', 'keys', 'primero.test.key'))).toBe(true);

    await writeFile(join(dir, 'afile'), 'x');
    const bad = await tier4(['certs', 'csr', '-c', file, '--out-dir', join(dir, 'afile', 'keys')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Cannot create the key folder');
    expect(bad.stderr).toContain('--out-dir');
  });
});
