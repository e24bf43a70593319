import { afterEach, describe, expect, test } from 'vitest';
import { loadConfig } from '../../core/config/load.js';
import { runDoctor } from '../../doctor/run.js';
import {
  editedConfiguration,
  type PromotionSites,
  startPromotionSites,
} from '../support/primero-simulator-sites.js';

let sites: PromotionSites | undefined;
afterEach(async () => {
  await sites?.stop();
  sites = undefined;
});

describe('tier4 doctor and configuration drift (against the Primero API simulator)', () => {
  test('reports how far production is from demo, and the deletions a promotion would make', async () => {
    sites = await startPromotionSites();
    const report = await runDoctor(loadConfig(sites.configFile), { env: { ...process.env, ...sites.env } });
    const drift = report.checks.find((check) => check.check === 'config-drift')!;
    expect(drift.site).toBeNull();
    expect(drift.status).toBe('warn');
    expect(drift.message).toMatch(
      /^\d+ difference\(s\) between demo and production, \d+ would be deleted on promotion/,
    );
    const changes = report.metrics.find((metric) => metric.name === 'tier4_config_drift_changes')!;
    expect(changes.labels).toEqual({ site: 'production', from: 'demo', to: 'production' });
    expect(changes.value).toBe(9);
    expect(report.metrics.find((metric) => metric.name === 'tier4_config_drift_destructive')!.value).toBe(3);
  });

  test("says so when production already has demo's configuration", async () => {
    sites = await startPromotionSites({ productionConfiguration: editedConfiguration() });
    const report = await runDoctor(loadConfig(sites.configFile), { env: { ...process.env, ...sites.env } });
    const drift = report.checks.find((check) => check.check === 'config-drift')!;
    expect(drift).toMatchObject({ status: 'ok', message: "production has demo's configuration" });
  });
});
