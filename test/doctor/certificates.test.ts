import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../core/config/load.js';
import { runDoctor } from '../../doctor/run.js';
import { certsConfig } from '../support/certs-config.js';
import { createIntermediate, createRootCa, type Issuer, issueLeaf } from '../support/certs-factory.js';
import { type RunningNginx, SNI_HOST, startNginx } from '../support/certs-nginx.js';

/** The doctor shows each site's certificates with their days left, from a real nginx and the stored files. */
let root: Issuer;
let issuing: Issuer;
const running: RunningNginx[] = [];

beforeAll(async () => {
  root = await createRootCa('Tier4 Doctor Root');
  issuing = await createIntermediate(root, 'Tier4 Doctor Issuing CA');
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

async function doctorFor(daysLeft: number) {
  const pair = await issueLeaf(issuing, { names: [SNI_HOST], notAfterDays: daysLeft });
  const nginx = await startNginx(pair);
  running.push(nginx);
  const config = await certsConfig({
    host: SNI_HOST,
    port: nginx.port,
    connectAddress: '127.0.0.1',
    source: { type: 'files', cert: nginx.certFile, key: nginx.keyFile, reloadCommand: nginx.reloadCommand },
  });
  const caFile = join(config.dir, 'ca.pem');
  await writeFile(caFile, root.pem);
  const { parse, stringify } = await import('yaml');
  const { readFile } = await import('node:fs/promises');
  const doc = parse(await readFile(config.file, 'utf8'));
  doc.sites.web.tls.caFile = caFile;
  await writeFile(config.file, stringify(doc));
  const report = await runDoctor(loadConfig(config.file), { site: 'web' });
  const certificates = report.checks.filter((check) => check.check.startsWith('certificate '));
  const metrics = report.metrics.filter(
    (metric) => metric.name === 'tier4_certificate_expiry_timestamp_seconds',
  );
  return { report, certificates, metrics };
}

describe('tier4 doctor and certificates', () => {
  test('a certificate with 20 days left is a warning, for the served and the stored copy, with its days as a metric', async () => {
    const { certificates, metrics } = await doctorFor(20);
    expect(certificates.map((c) => c.check).sort()).toEqual([
      `certificate ${SNI_HOST} (served)`,
      `certificate ${SNI_HOST} (stored)`,
    ]);
    expect(certificates.map((c) => c.status)).toEqual(['warn', 'warn']);
    expect(metrics).toHaveLength(2);
    for (const metric of metrics) {
      expect(metric.labels).toMatchObject({ site: 'web', certificate: SNI_HOST });
      const daysLeft = (metric.value - Date.now() / 1000) / 86_400;
      expect(daysLeft).toBeGreaterThanOrEqual(19);
      expect(daysLeft).toBeLessThanOrEqual(20.01);
    }
    // The same certificate is served and stored, and the thresholds are exposed for the alert rules.
    const { report } = await doctorFor(20);
    const value = (name: string) => report.metrics.find((metric) => metric.name === name)?.value;
    expect(value('tier4_certificate_served_matches_stored')).toBe(1);
    expect(value('tier4_certificate_warn_seconds')).toBe(30 * 86_400);
    expect(value('tier4_certificate_fail_seconds')).toBe(14 * 86_400);
  });

  test('a certificate with 10 days left fails the doctor', async () => {
    const { report, certificates } = await doctorFor(10);
    expect(certificates.map((c) => [c.check, c.status]).sort()).toEqual([
      [`certificate ${SNI_HOST} (served)`, 'fail'],
      [`certificate ${SNI_HOST} (stored)`, 'fail'],
    ]);
    expect(report.ok).toBe(false);
  });
});
