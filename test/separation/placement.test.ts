import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseDocument } from 'yaml';
import { REPO_ROOT, tier4 } from '../support/cli.js';
import { ownExample, withOwnRecipients } from '../support/example.js';

const EXAMPLE = join(REPO_ROOT, 'examples', 'tier4.example.yaml');
const WHY = "real data would be stored on the demo site's infrastructure";

async function exampleWith(edit: (doc: ReturnType<typeof parseDocument>) => void): Promise<string> {
  const doc = parseDocument(await readFile(EXAMPLE, 'utf8'));
  withOwnRecipients(doc);
  edit(doc);
  const dir = await mkdtemp(join(tmpdir(), 'tier4-placement-'));
  const file = join(dir, 'tier4.yaml');
  await writeFile(file, doc.toString());
  return file;
}

async function validate(edit: (doc: ReturnType<typeof parseDocument>) => void) {
  return tier4(['config', 'validate', '-c', await exampleWith(edit)]);
}

describe('config validate keeps production backups and attachments off the demo site', () => {
  test('a production repository on the demo site storage account is refused, naming the field', async () => {
    const result = await validate((doc) =>
      doc.setIn(
        ['sites', 'production', 'backups', 'repository'],
        'azblob://stexamplecpdemo/other-container/prod',
      ),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `sites.production.backups.repository: is on demo site demo's Azure storage account "stexamplecpdemo": ${WHY}`,
    );
  });

  test("the demo stack's default storage account counts too (st<deployment><site>), with no account named", async () => {
    const result = await validate((doc) => {
      doc.setIn(['sites', 'demo', 'attachments'], doc.createNode({ type: 'local', path: '/srv/demo' }));
      doc.setIn(['sites', 'demo', 'backups', 'repository'], 's3://demo-backups/demo');
      doc.setIn(
        ['sites', 'production', 'backups', 'repository'],
        'azblob://stexamplecpdemo/tier4-backups/production',
      );
    });
    expect(result.stderr).toContain(
      "sites.production.backups.repository: is on demo site demo's Azure storage account",
    );
    expect(result.code).toBe(2);
  });

  test('a repository shared with demo (same place, or one inside the other after normalising) is refused', async () => {
    const pairs: Array<[string, string]> = [
      ['s3://tier4-backups/production', 's3://tier4-backups/production/'],
      ['s3://tier4-backups/', 's3://tier4-backups/demo'],
      ['file:///var/backups/tier4', 'file:///var/backups/./tier4/demo/'],
    ];
    for (const [prod, demo] of pairs) {
      const result = await validate((doc) => {
        doc.setIn(['sites', 'demo', 'backups', 'repository'], demo);
        doc.deleteIn(['sites', 'demo', 'backups', 'azure']);
        if (demo.startsWith('s3:'))
          doc.setIn(
            ['sites', 'demo', 'backups', 's3'],
            doc.createNode({ endpoint: 'https://MINIO.backup.example.org/', forcePathStyle: true }),
          );
        doc.setIn(['sites', 'production', 'backups', 'repository'], prod);
      });
      expect(result.stderr, `${prod} vs ${demo}`).toContain(
        `sites.production.backups.repository: shares a location with demo site demo's backup repository (the same place, or one inside the other): ${WHY}`,
      );
      expect(result.code).toBe(2);
    }
  });

  test('the same bucket name on another S3 service is another place', async () => {
    const result = await validate((doc) => {
      doc.setIn(['sites', 'demo', 'backups', 'repository'], 's3://tier4-backups/production');
      doc.deleteIn(['sites', 'demo', 'backups', 'azure']);
      doc.setIn(
        ['sites', 'demo', 'backups', 's3'],
        doc.createNode({ endpoint: 'https://s3.demo.example.org' }),
      );
    });
    // Valid: no error, no placement finding (the example's placeholder recipients only warn).
    expect(result.stderr).not.toMatch(/^error:/m);
    expect(result.stderr).not.toContain("demo site's infrastructure");
    expect(result.code).toBe(0);
  });

  test("production attachments in demo's storage account or demo's folder are refused", async () => {
    const azure = await validate((doc) =>
      doc.setIn(
        ['sites', 'production', 'attachments'],
        doc.createNode({
          type: 'azure',
          account: 'stexamplecpdemo',
          container: 'prod-attachments',
          key: { env: 'K' },
        }),
      ),
    );
    expect(azure.stderr).toContain(
      `sites.production.attachments: is on demo site demo's Azure storage account "stexamplecpdemo": ${WHY}`,
    );
    expect(azure.code).toBe(2);

    const local = await validate((doc) => {
      doc.setIn(
        ['sites', 'demo', 'attachments'],
        doc.createNode({ type: 'local', path: '/srv/primero/application' }),
      );
    });
    expect(local.stderr).toContain(
      `sites.production.attachments: is demo site demo's attachment storage, or overlaps it: ${WHY}`,
    );
    expect(local.code).toBe(2);
  });

  test('the shipped example (demo on Azure, production on MinIO and a volume) is valid', async () => {
    const result = await tier4(['config', 'validate', '-c', ownExample()]);
    expect(result.code).toBe(0);
  });
});
