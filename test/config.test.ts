import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseDocument } from 'yaml';
import { parseConfig } from '../core/config/load.js';
import { parseRepositoryUrl } from '../core/config/repository-url.js';
import { resolveSecret } from '../core/secrets.js';
import { REPO_ROOT, tier4 } from './support/cli.js';
import { ownExample, withOwnRecipients } from './support/example.js';
import { testSecret } from './support/secrets.js';

const EXAMPLE = join(REPO_ROOT, 'examples', 'tier4.example.yaml');

/** The example file with one edit applied, written to a temp file. */
async function exampleWith(edit: (doc: ReturnType<typeof parseDocument>) => void): Promise<string> {
  const doc = parseDocument(await readFile(EXAMPLE, 'utf8'));
  withOwnRecipients(doc);
  edit(doc);
  const dir = await mkdtemp(join(tmpdir(), 'tier4-config-'));
  const file = join(dir, 'tier4.yaml');
  await writeFile(file, doc.toString());
  return file;
}

describe('tier4 config validate', () => {
  test('the shipped example fails only for its placeholder recipients (exit 1), naming each site', async () => {
    const result = await tier4(['config', 'validate', '-c', EXAMPLE]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /sites\.demo\.backups\.encryption\.recipients holds the example's placeholder/,
    );
    expect(result.stderr).toMatch(/sites\.production\.backups\.encryption\.recipients holds the example's/);
    expect(result.stderr).toContain('tier4 backup keygen --out backup-identity.txt');
    // With its own recipients in place, the same file is valid.
    const own = await tier4(['config', 'validate', '-c', ownExample()]);
    expect(own.stderr).toBe('');
    expect(own.code).toBe(0);
    expect(own.stdout).toContain('is valid');
    expect(own.stdout).toMatch(/production\s+production\s+kubernetes/);
  });

  test('an identity file that matches none of the recipients fails (exit 1), naming the site', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-config-'));
    const identity = join(dir, 'identity.txt');
    const { generateIdentity } = await import('../backups/crypto/age.js');
    await writeFile(identity, `${(await generateIdentity()).identity}\n`, { mode: 0o600 });
    const file = await exampleWith((doc) =>
      doc.setIn(
        ['sites', 'production', 'backups', 'encryption', 'identity'],
        doc.createNode({ file: identity }),
      ),
    );
    const result = await tier4(['config', 'validate', '-c', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'the identity in sites.production.backups.encryption.identity matches none of the recipients',
    );
  });

  test('--json gives one document with both sites', async () => {
    const result = await tier4(['--json', 'config', 'validate', '-c', ownExample()]);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.sites.map((site: { name: string }) => site.name)).toEqual(['demo', 'production']);
    expect(doc.promotion).toEqual({ from: 'demo', to: 'production' });
  });

  test('an inline password is refused with its path, and never echoed', async () => {
    const inline = testSecret('inline-db-password');
    const file = await exampleWith((doc) =>
      doc.setIn(['sites', 'production', 'database', 'password'], inline),
    );
    const result = await tier4(['config', 'validate', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sites.production.database.password: inline secrets are not allowed');
    expect(result.stderr + result.stdout).not.toContain(inline);
  });

  test('a password inside the database URL is refused', async () => {
    const secret = testSecret('url-password');
    const file = await exampleWith((doc) =>
      doc.setIn(
        ['sites', 'demo', 'database', 'url'],
        `postgres://primero:${secret}@db.example.org/primero_production`,
      ),
    );
    const result = await tier4(['config', 'validate', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sites.demo.database.url: must not contain a password');
    expect(result.stderr).not.toContain(secret);
  });

  test('a malformed repository URL is refused with its path', async () => {
    const file = await exampleWith((doc) =>
      doc.setIn(['sites', 'production', 'backups', 'repository'], 'ftp://backups/x'),
    );
    const result = await tier4(['config', 'validate', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'sites.production.backups.repository: must be file:///path, s3://bucket/prefix',
    );
  });

  test('an unknown site role is refused with its path', async () => {
    const file = await exampleWith((doc) => doc.setIn(['sites', 'demo', 'role'], 'staging'));
    const result = await tier4(['config', 'validate', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sites.demo.role: must be demo or production');
  });

  test('a misspelt setting is named rather than ignored', async () => {
    const file = await exampleWith((doc) =>
      doc.setIn(['sites', 'production', 'backups', 'retenton'], { last: 3 }),
    );
    const result = await tier4(['config', 'validate', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sites.production.backups.retenton: unknown setting');
  });

  test('promotion must name existing sites of the right roles', async () => {
    const file = await exampleWith((doc) => doc.setIn(['promotion', 'to'], 'demo'));
    const result = await tier4(['config', 'validate', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('promotion.to: must be a production site');
  });

  test('broken YAML gives a line number, not a stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-config-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'version: 1\nsites:\n  demo: [unclosed\n');
    const result = await tier4(['config', 'validate', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/line \d+, column \d+/);
    expect(result.stderr).not.toMatch(/\bat .*\.(ts|js):\d+/);
  });

  test('a missing file says how to create one', async () => {
    const result = await tier4(['config', 'validate', '-c', '/nonexistent/tier4.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('tier4 config init');
  });

  test('TIER4_CONFIG names the file when -c is absent', async () => {
    const result = await tier4(['config', 'validate'], { env: { TIER4_CONFIG: ownExample() } });
    expect(result.code).toBe(0);
  });
});

describe('tier4 config init', () => {
  test('writes a commented file, valid once its placeholder recipients are replaced, and refuses to overwrite it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-init-'));
    const file = join(dir, 'tier4.yaml');
    const init = await tier4(['config', 'init', '-c', file]);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(
      'replace the placeholder backup recipients with your own (`tier4 backup keygen --out FILE`)',
    );
    const written = await readFile(file, 'utf8');
    expect(written).toContain('# Secrets are never written in this file');
    // The schema its first line names for editors is written beside it.
    expect(written.split('\n')[0]).toBe('# yaml-language-server: $schema=./tier4.schema.json');
    const schema = JSON.parse(await readFile(join(dir, 'tier4.schema.json'), 'utf8'));
    expect(schema.properties.sites).toBeDefined();
    const placeholders = await tier4(['config', 'validate', '-c', file]);
    expect(placeholders.code).toBe(1);
    expect(placeholders.stderr).toContain("holds the example's placeholder");
    const own = parseDocument(written);
    withOwnRecipients(own);
    await writeFile(file, own.toString());
    expect((await tier4(['config', 'validate', '-c', file])).code).toBe(0);
    const again = await tier4(['config', 'init', '-c', file]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
    expect((await tier4(['config', 'init', '-c', file, '--force'])).code).toBe(0);
  });
});

describe('schema details', () => {
  test('defaults are filled in', async () => {
    const config = parseConfig(await readFile(EXAMPLE, 'utf8'));
    expect(config.sites.production!.backups!.rpo.seconds).toBe(86_400);
    expect(config.sites.production!.tls!.port).toBe(443);
    expect(config.sites.demo!.azure!.keyVault.purgeProtection).toBe(true);
  });

  test('repository URLs parse into their parts', () => {
    expect(parseRepositoryUrl('file:///var/backups/tier4/')).toEqual({
      kind: 'file',
      path: '/var/backups/tier4',
    });
    expect(parseRepositoryUrl('s3://tier4-backups/prod/db')).toEqual({
      kind: 's3',
      bucket: 'tier4-backups',
      prefix: 'prod/db',
    });
    expect(parseRepositoryUrl('azblob://acct01/backups/demo')).toEqual({
      kind: 'azblob',
      account: 'acct01',
      container: 'backups',
      prefix: 'demo',
    });
    expect(parseRepositoryUrl('file://relative/path')).toMatch(/absolute path/);
    expect(parseRepositoryUrl('s3://UPPER/x')).toMatch(/not a valid bucket/);
  });

  test('secret references resolve from env and file, with clear errors', async () => {
    const value = testSecret('env-secret');
    expect(resolveSecret({ env: 'T4_TEST_SECRET' }, { T4_TEST_SECRET: value })).toBe(value);
    expect(() => resolveSecret({ env: 'T4_MISSING' }, {})).toThrow(/T4_MISSING is not set/);
    const dir = await mkdtemp(join(tmpdir(), 'tier4-secret-'));
    await writeFile(join(dir, 's'), `${value}\n`);
    expect(resolveSecret({ file: join(dir, 's') })).toBe(value);
    expect(() => resolveSecret({ file: join(dir, 'absent') })).toThrow(/cannot be read \(ENOENT\)/);
  });
});

describe('config errors point at the line and guess the typo', () => {
  test('an unknown setting names its line and the setting it probably meant; -q prints only errors', async () => {
    const file = await exampleWith((doc) => {
      const production = doc.getIn(['sites', 'production']) as { set(key: string, value: unknown): void };
      production.set('backup', { schedule: '0 1 * * *' });
      production.set('zzqqxx', 1);
    });
    const text = await readFile(file, 'utf8');
    const line = text.split('\n').findIndex((l) => /^\s+backup:/.test(l)) + 1;
    const result = await tier4(['config', 'validate', '-c', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `sites.production.backup: unknown setting; did you mean "backups"? (line ${line})`,
    );
    expect(result.stderr).toMatch(/sites\.production\.zzqqxx: unknown setting \(line \d+\)\n/);
    const quiet = await tier4(['-q', 'config', 'validate', '-c', ownExample()]);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout + quiet.stderr).toBe('');
    const quietBad = await tier4(['-q', 'config', 'validate', '-c', file]);
    expect(quietBad.stderr).toContain('unknown setting');
  });
});

describe('tier4 config show', () => {
  test('its output is a valid tier4.yaml that shows the same again (durations and waits as written)', async () => {
    const file = await exampleWith((doc) => {
      doc.setIn(['promotion', 'timing'], { pollInterval: '1500ms', applyTimeout: '20m', retries: 2 });
      doc.setIn(['sites', 'production', 'backups', 'rpo'], '90m');
    });
    const first = await tier4(['config', 'show', '-c', file]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('rpo: 90m');
    expect(first.stdout).toMatch(/pollInterval: 1500ms\n\s+transferTimeout: 5m\n\s+applyTimeout: 20m\n/);
    const shown = join(join(file, '..'), 'shown.yaml');
    await writeFile(shown, first.stdout);
    const valid = await tier4(['config', 'validate', '-c', shown]);
    expect(valid.code, valid.stderr).toBe(0);
    const second = await tier4(['config', 'show', '-c', shown]);
    expect(second.stdout).toBe(first.stdout);
  });
});

describe('tier4 config schema', () => {
  test('prints a JSON Schema that the example satisfies and that rejects a mistyped key', async () => {
    const result = await tier4(['config', 'schema']);
    expect(result.code, result.stderr).toBe(0);
    const schema = JSON.parse(result.stdout);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const { Ajv2020 } = await import('ajv/dist/2020.js');
    const validate = new Ajv2020({ strict: false, validateFormats: false }).compile(schema);
    const example = parseDocument(await readFile(EXAMPLE, 'utf8')).toJS();
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    const typo = structuredClone(example);
    typo.sites.production.backup = typo.sites.production.backups;
    expect(validate(typo)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain('additionalProperties');
    const inline = structuredClone(example);
    inline.sites.production.database.password = 'plain';
    expect(validate(inline)).toBe(false);
  });
});
