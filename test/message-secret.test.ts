import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../core/config/load.js';
import { runDoctor } from '../doctor/run.js';
import { REPO_ROOT, tier4 } from './support/cli.js';
import { ownExample } from './support/example.js';

// The example with recipients of its own: its placeholders alone fail validate (test/config.test.ts).
const EXAMPLE = ownExample();
const VAR = 'PROD_PRIMERO_MESSAGE_SECRET';

/** What `openssl rand -hex N` prints: 2N hexadecimal characters. */
const hex = (bytes: number) => 'a1'.repeat(bytes);

describe('PRIMERO_MESSAGE_SECRET is checked for exactly 32 bytes (rbnacl SecretBox)', () => {
  test('config validate refuses 64 characters (`openssl rand -hex 32`), without printing the value', async () => {
    const value = hex(32);
    const result = await tier4(['config', 'validate', '-c', EXAMPLE], { env: { [VAR]: value } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sites.production.primero.messageSecret');
    expect(result.stderr).toContain('is 64 bytes; Primero needs exactly 32');
    expect(result.stderr).toContain('openssl rand -hex 16');
    expect(`${result.stdout}${result.stderr}`).not.toContain(value);
  });

  test('config validate accepts 32 bytes, and says so', async () => {
    const result = await tier4(['config', 'validate', '-c', EXAMPLE], { env: { [VAR]: hex(16) } });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`PRIMERO_MESSAGE_SECRET (environment variable ${VAR}) is 32 bytes`);
  });

  test('bytes, not characters: 32 two-byte characters are 64 bytes', async () => {
    const result = await tier4(['config', 'validate', '-c', EXAMPLE], { env: { [VAR]: 'é'.repeat(32) } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is 64 bytes');
    const ok = await tier4(['config', 'validate', '-c', EXAMPLE], { env: { [VAR]: 'é'.repeat(16) } });
    expect(ok.code).toBe(0);
  });

  test('a reference that does not resolve here is reported as not checked, not as invalid', async () => {
    const result = await tier4(['--json', 'config', 'validate', '-c', EXAMPLE], { env: { [VAR]: '' } });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).messageSecrets).toEqual([
      { site: 'production', status: 'skip', message: expect.stringContaining('not checked') },
    ]);
  });

  test('doctor fails the check on a wrong length', async () => {
    const loaded = loadConfig(EXAMPLE);
    const site = loaded.config.sites.production!;
    // Only the message secret matters here: no backups and an unreachable database fail fast.
    delete site.backups;
    delete site.tls;
    site.database.url = 'postgres://primero@127.0.0.1:1/primero_production?sslmode=disable';
    const report = await runDoctor(loaded, {
      site: 'production',
      env: { [VAR]: hex(32) },
      timeoutMs: 5000,
    });
    const check = report.checks.find((c) => c.check === 'message-secret');
    expect(check).toMatchObject({ status: 'fail', message: expect.stringContaining('is 64 bytes') });
    expect(report.ok).toBe(false);
  });

  test("the doctor CronJob reads the very key Primero reads; the backup and drill jobs don't get it", async () => {
    const out = await mkdtemp(join(tmpdir(), 'tier4-message-secret-'));
    const render = await tier4(['site', 'render', 'production', '-c', EXAMPLE, '--out', out]);
    expect(render.code).toBe(0);
    const text = await readFile(join(out, (await readdir(out)).find((f) => f.startsWith('50-'))!), 'utf8');
    const jobs = parseAllDocuments(text).map((doc) => doc.toJS());
    const envOf = (name: string) =>
      jobs.find((job) => job.metadata.name === name).spec.jobTemplate.spec.template.spec.containers[0].env;
    expect(envOf('tier4-doctor')).toContainEqual({
      name: VAR,
      valueFrom: { secretKeyRef: { name: 'primero-app', key: 'PRIMERO_MESSAGE_SECRET' } },
    });
    for (const job of ['tier4-backup', 'tier4-drill']) {
      expect(JSON.stringify(envOf(job))).not.toContain('PRIMERO_MESSAGE_SECRET');
    }
  });
});

describe('docs generate a 32-byte message secret', () => {
  test('docs/kubernetes.md says openssl rand -hex 16', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs', 'kubernetes.md'), 'utf8');
    expect(doc).toContain('PRIMERO_MESSAGE_SECRET="$(openssl rand -hex 16)"');
    expect(doc).not.toMatch(/PRIMERO_MESSAGE_SECRET="\$\(openssl rand -hex (?!16\))/);
  });
});
