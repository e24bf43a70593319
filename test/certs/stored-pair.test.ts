import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { certificateStatus } from '../../certs/status.js';
import { certsConfig } from '../support/certs-config.js';
import { createRootCa, type Issuer, issueLeaf, type TestPair } from '../support/certs-factory.js';
import { type RunningNginx, SNI_HOST, startNginx } from '../support/certs-nginx.js';

/**
 * certs status on the stored pair (files), in-process: a stored key that does not belong to the stored
 * certificate is a failure of the stored copy even while the server still serves a good certificate (the next
 * reload would take the site down).
 */
let root: Issuer;
let served: TestPair;
let nginx: RunningNginx;

beforeAll(async () => {
  root = await createRootCa('Tier4 Stored Pair Root');
  served = await issueLeaf(root, { names: [SNI_HOST], notAfterDays: 90 });
  nginx = await startNginx(served);
});
afterAll(async () => nginx?.stop());

async function statusOf(stored: { cert: string; key: string }) {
  const dir = await mkdtemp(join(tmpdir(), 'tier4-stored-pair-'));
  const [cert, key, caFile] = ['stored.crt', 'stored.key', 'ca.pem'].map((name) => join(dir, name));
  await writeFile(cert!, stored.cert);
  await writeFile(key!, stored.key, { mode: 0o600 });
  await writeFile(caFile!, root.pem);
  const config = await certsConfig({
    host: SNI_HOST,
    port: nginx.port,
    connectAddress: '127.0.0.1',
    caFile,
    source: { type: 'files', cert, key, reloadCommand: nginx.reloadCommand },
  });
  const report = await certificateStatus(config.loaded, 'web');
  const entry = (where: 'served' | 'stored') => report.entries.find((e) => e.where === where)!;
  return { report, served: entry('served'), stored: entry('stored') };
}

describe('certs status: the stored key and certificate', () => {
  test('a matching stored pair has no finding', async () => {
    const { report, served: s, stored } = await statusOf(served);
    expect(report.entries).toHaveLength(2);
    expect([s.status, stored.status]).toEqual(['ok', 'ok']);
    expect(stored.findings).toEqual([]);
    expect(report.status).toBe('ok');
  });

  test('a stored key of another certificate fails the stored copy, and the site', async () => {
    const other = await issueLeaf(root, { names: [SNI_HOST], notAfterDays: 90 });
    const { report, served: s, stored } = await statusOf({ cert: served.cert, key: other.key });
    expect(report.entries).toHaveLength(2);
    expect(s.status).toBe('ok');
    expect(stored.findings).toEqual([
      { level: 'fail', message: 'the stored key does not belong to the stored certificate' },
    ]);
    expect(stored.status).toBe('fail');
    expect(report.status).toBe('fail');
  });
});
