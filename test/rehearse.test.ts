import { describe, expect, test } from 'vitest';
import { tier4 } from './support/cli.js';

describe('tier4 rehearse (the quickstart)', () => {
  test('backs up, verifies, restores, drills a throwaway PostgreSQL, and synthesizes and renders both sites', async () => {
    const result = await tier4(['--json', 'rehearse']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.ok).toBe(true);
    const steps = report.steps.map((s: { step: string }) => s.step);
    for (const expected of [
      'initialise the repository (tier4 backup init)',
      'back up into a file:// repository (encrypted with age)',
      'restore into a fresh database and compare',
      'run a restore drill (scratch database, checks, reports)',
      'ask the doctor about the local site',
      'synthesize the Azure demo stack (Terraform JSON, policy checks)',
      "render the production site's Kubernetes manifests (schemas, policy rules)",
      "render the demo site's Kubernetes manifests (schemas, policy rules)",
    ]) {
      expect(steps).toContain(expected);
    }
    expect(report.workDir).toBeNull();
  }, 180_000);
});
