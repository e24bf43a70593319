import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { loadConfig } from '../../core/config/load.js';
import { PrimeroClient } from '../../primero-api/client.js';
import { readLiveConfiguration } from '../../primero-api/live-configuration.js';
import { applyPromotion, describeOutcome, PromotionFailedError } from '../../promotion/apply.js';
import { configurationDrift } from '../../promotion/drift.js';
import { fingerprint, normalizeConfiguration } from '../../promotion/normalize.js';
import type { PromotionPlan } from '../../promotion/plan.js';
import { connectTestDatabase, pgInfo, primeroDatabase } from '../support/pg.js';
import type { PrimeroSimulator } from '../support/primero-simulator.js';
import {
  additiveConfiguration,
  baselineConfiguration,
  mirrorConfigurations,
  type PromotionSites,
  type SiteSetup,
  startPromotionSites,
} from '../support/primero-simulator-sites.js';

// tier4 promote apply (promotion/apply.ts) and doctor's drift (promotion/drift.ts), in process, against two
// Primero simulators that behave as two real sites (their own database ids and timestamps, apply in the
// worker behind the configuration lock, applied_on the one success signal: test/support/primero-simulator.ts).
// Each test states what reaches each site, in which order, what the operator is told, and what the audit log
// keeps.

let sites: PromotionSites | undefined;

afterEach(async () => {
  await sites?.stop();
  sites = undefined;
});

async function start(setup: SiteSetup = {}): Promise<PromotionSites> {
  sites = await startPromotionSites(setup);
  return sites;
}

async function audit(s: PromotionSites): Promise<Array<Record<string, unknown>>> {
  if (!existsSync(s.auditLog)) return [];
  return (await readFile(s.auditLog, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Production's configuration as tier4 fingerprints it, read the way the plan reads it. */
async function productionFingerprint(s: PromotionSites): Promise<Record<string, string>> {
  const client = new PrimeroClient({
    site: 'production',
    baseUrl: s.production.url,
    auth: { username: 'tier4-service', password: s.env.PROD_PRIMERO_PASSWORD! },
  });
  return fingerprint(normalizeConfiguration(await readLiveConfiguration(client)));
}

function context(s: PromotionSites, extra: Record<string, unknown> = {}) {
  const progress: string[] = [];
  return {
    progress,
    ctx: {
      loaded: loadConfig(s.configFile),
      env: s.env,
      onProgress: (line: string) => progress.push(line),
      ...extra,
    },
  };
}

/** Requests other than reading: what could change a site (signing in changes nothing). */
const writes = (sim: PrimeroSimulator) => sim.writes();

const READ_CONFIGURATION = [
  'GET /api/v2/forms',
  'GET /api/v2/lookups',
  'GET /api/v2/agencies',
  'GET /api/v2/roles',
  'GET /api/v2/user_groups',
  'GET /api/v2/reports',
  'GET /api/v2/contact_information',
];
const PREFLIGHT = [
  'GET /health',
  'GET /health/api',
  'GET /api/v2/contact_information',
  'GET /api/v2/configurations',
  'POST /api/v2/tokens',
  'GET /api/v2/users/9000',
];
const RUN_ID = /^\d{8}-\d{6}-[0-9a-f]{6}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SUMMARY_ADDITIVE = { changes: 6, added: 2, changed: 4, removed: 0, destructive: 0, kept: 0 };
const SUMMARY_DESTRUCTIVE = { changes: 9, added: 2, changed: 4, removed: 3, destructive: 3, kept: 0 };

/** What every audit line of a promotion from demo to production by ops-test says about the run. */
const runRecord = (id: unknown, summary: Record<string, number>) => ({
  id,
  kind: 'promotion',
  at: expect.any(String),
  operator: 'ops-test',
  from: 'demo',
  to: 'production',
  fromVersion: '2.15.2',
  toVersion: '2.15.2',
  transfer: 'promote',
  summary,
});

describe('a promotion that succeeds', () => {
  test('the exact requests to each site, the progress shown, the result and the audit log', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const before = await productionFingerprint(s);
    s.production.requests.length = 0;
    const { ctx, progress } = context(s);
    const shown: PromotionPlan[] = [];
    const result = await applyPromotion(ctx, { operator: 'ops-test', onPlan: (plan) => shown.push(plan) });

    const { id, configurationId, configurationVersion, rollbackPoint } = result;
    expect(id).toMatch(RUN_ID);
    expect(configurationId).toMatch(UUID);
    expect(rollbackPoint).toMatch(UUID);
    expect(result).toStrictEqual({
      id,
      status: 'applied',
      plan: shown[0],
      rollbackPoint,
      configurationId,
      configurationVersion,
      verified: true,
    });
    expect(shown).toHaveLength(1);
    expect(shown[0]!.diff!.summary).toMatchObject(SUMMARY_ADDITIVE);

    // Demo: the plan's reads, a snapshot, the re-read that proves demo did not change, the promote job, the check.
    expect(s.demo.requests).toEqual([
      ...PREFLIGHT,
      ...READ_CONFIGURATION,
      'POST /api/v2/configurations',
      ...READ_CONFIGURATION,
      `PATCH /api/v2/configurations/${configurationId}`,
      ...READ_CONFIGURATION,
    ]);
    const promoted = s.demo.configurations.get(configurationId!)!;
    expect(promoted).toMatchObject({
      name: `tier4 promotion ${id}`,
      description: 'Promoted by tier4 from demo to production (ops-test)',
      version: configurationVersion,
    });

    // Production: the rollback point first, then (from demo's promote job) the promoted configuration, then
    // the apply; never a write before the rollback point is saved.
    expect(writes(s.production)).toEqual([
      'POST /api/v2/configurations',
      'POST /api/v2/configurations',
      `PATCH /api/v2/configurations/${configurationId}`,
    ]);
    const firstWrite = s.production.requests.indexOf('POST /api/v2/configurations');
    expect(s.production.requests.slice(0, firstWrite)).toEqual([...PREFLIGHT, ...READ_CONFIGURATION]);
    const applyAt = s.production.requests.indexOf(`PATCH /api/v2/configurations/${configurationId}`);
    // Waiting for the apply: /health/api and the configuration only, until applied_on is set; then the check.
    const waiting = s.production.requests.slice(applyAt + 1, -READ_CONFIGURATION.length);
    expect(new Set(waiting)).toEqual(
      new Set(['GET /health/api', `GET /api/v2/configurations/${configurationId}`]),
    );
    expect(waiting.at(-1)).toBe(`GET /api/v2/configurations/${configurationId}`);
    expect(s.production.requests.slice(-READ_CONFIGURATION.length)).toEqual(READ_CONFIGURATION);
    expect(s.production.configurations.get(rollbackPoint!)).toMatchObject({
      name: `tier4 rollback point ${id}`,
      description: `production's configuration before promotion ${id} from demo`,
      applied_on: null,
    });
    expect(s.production.configurations.get(configurationId!)!.applied_on).not.toBeNull();

    // Whether a poll lands while the worker holds the lock depends on timing: that line may or may not be shown.
    expect(progress.filter((line) => line !== 'production: applying (API locked)')).toEqual([
      'checking demo and production',
      "reading demo's configuration",
      "reading production's configuration",
      "saving production's current configuration (the rollback point)",
      "snapshotting demo's configuration",
      `demo is sending configuration ${configurationVersion} to production`,
      `applying configuration ${configurationVersion} on production`,
      'verifying production against demo',
      "reading demo's configuration",
      "reading production's configuration",
    ]);

    const [started, succeeded] = await audit(s);
    const common = runRecord(id, SUMMARY_ADDITIVE);
    expect(started).toStrictEqual({ ...common, result: 'started', before });
    expect(succeeded).toStrictEqual({
      ...common,
      result: 'succeeded',
      finishedAt: expect.any(String),
      rollbackPoint,
      configurationId,
      configurationVersion,
    });
    expect(Date.parse(succeeded!.finishedAt as string)).toBeGreaterThanOrEqual(
      Date.parse(started!.at as string),
    );
  });

  test('--backup: the backup is taken first, and its id is in the result and the audit log', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const taken: Array<{ site: string; productionWrites: number }> = [];
    const { ctx, progress } = context(s, {
      hooks: {
        takeBackup: async (site: string) => {
          taken.push({ site, productionWrites: writes(s.production).length });
          return { id: 'backup-42' };
        },
      },
    });
    const result = await applyPromotion(ctx, { backup: true, operator: 'ops-test' });
    expect(result).toMatchObject({ status: 'applied', backupId: 'backup-42', verified: true });
    expect(taken).toEqual([{ site: 'production', productionWrites: 0 }]);
    expect(progress.slice(3, 5)).toEqual([
      'backing up production',
      "saving production's current configuration (the rollback point)",
    ]);
    expect((await audit(s)).map((line) => [line.result, line.backupId])).toEqual([
      ['started', undefined],
      ['succeeded', 'backup-42'],
    ]);
  });

  test('nothing to promote: nothing written, nothing logged, and it counts as verified', async () => {
    const s = await start({ demoConfiguration: baselineConfiguration() });
    const { ctx } = context(s);
    const result = await applyPromotion(ctx, {});
    expect(result).toStrictEqual({
      id: expect.stringMatching(RUN_ID),
      status: 'nothing-to-do',
      plan: expect.objectContaining({ blocked: false }),
      verified: true,
    });
    expect(writes(s.production)).toEqual([]);
    expect(writes(s.demo)).toEqual([]);
    expect(await audit(s)).toEqual([]);
  });

  test('cancelled at the confirmation: it saw the plan, nothing is written or logged', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const { ctx } = context(s);
    const asked: PromotionPlan[] = [];
    const result = await applyPromotion(ctx, {
      confirm: async (plan) => {
        asked.push(plan);
        return false;
      },
    });
    expect(result).toStrictEqual({
      id: expect.stringMatching(RUN_ID),
      status: 'cancelled',
      plan: asked[0],
      verified: false,
    });
    expect(asked[0]!.diff!.summary).toMatchObject(SUMMARY_ADDITIVE);
    expect(writes(s.production)).toEqual([]);
    expect(writes(s.demo)).toEqual([]);
    expect(await audit(s)).toEqual([]);
  });
});

describe('transfer: database', () => {
  test('demo’s snapshot is read from its database and stored on production as is, then applied', async () => {
    const built = await primeroDatabase({ cases: 1 });
    const info = pgInfo();
    const writer = await connectTestDatabase(built.database);
    try {
      const s = await start({
        demoConfiguration: additiveConfiguration(),
        transfer: 'database',
        demoReachesProduction: false,
        demoDatabase: {
          url: `postgres://${info.user}@${info.host}:${info.port}/${built.database}`,
          passwordEnv: 'DEMO_DB_PASSWORD',
          password: info.password,
          onStore: mirrorConfigurations(writer),
        },
      });
      const { ctx, progress } = context(s);
      const result = await applyPromotion(ctx, { operator: 'ops-test' });
      const { configurationId, configurationVersion } = result;
      expect(result).toMatchObject({ status: 'applied', verified: true });
      expect(progress.slice(5, 8)).toEqual([
        `reading configuration ${configurationVersion} from demo's database`,
        'storing it on production',
        `applying configuration ${configurationVersion} on production`,
      ]);
      // Demo is never asked to promote; production receives the rollback point, then demo's snapshot, then the apply.
      expect(writes(s.demo)).toEqual(['POST /api/v2/configurations']);
      expect(writes(s.production)).toEqual([
        'POST /api/v2/configurations',
        'POST /api/v2/configurations',
        `PATCH /api/v2/configurations/${configurationId}`,
      ]);
      expect(s.production.configurations.get(configurationId!)).toMatchObject({
        version: configurationVersion,
        name: s.demo.configurations.get(configurationId!)!.name,
      });
      expect((await audit(s)).map((line) => line.transfer)).toEqual(['database', 'database']);
    } finally {
      await writer.end();
    }
  });
});

describe('refusals: nothing changed on either site', () => {
  test('a destructive plan without allowDeletions names every item it would delete', async () => {
    const s = await start();
    const { ctx } = context(s);
    const error = await applyPromotion(ctx, { operator: 'ops-test' }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      message:
        'Refused: this promotion would delete 3 item(s) from production (form legacy_assessment, lookup lookup-legacy-scores, report case/primeromodule-cp/Legacy scores); nothing was changed.',
      hint: 'Check that demo should really lack them (records keep their data, but the forms, lookups or reports disappear), then run again with --allow-deletions.',
      exitCode: 1,
    });
    expect(error).not.toBeInstanceOf(PromotionFailedError);
    expect(writes(s.production)).toEqual([]);
    expect(writes(s.demo)).toEqual([]);
    expect(await audit(s)).toStrictEqual([
      {
        ...runRecord(expect.stringMatching(RUN_ID), SUMMARY_DESTRUCTIVE),
        result: 'refused',
        finishedAt: expect.any(String),
        error:
          'Refused: this promotion would delete 3 item(s) from production (form legacy_assessment, lookup lookup-legacy-scores, report case/primeromodule-cp/Legacy scores); nothing was changed.',
      },
    ]);
  });

  test('a failed preflight names every failed check and is logged as refused', async () => {
    // Demo runs a newer Primero, and production's service account lacks the module the forms use.
    const s = await start({ demoVersion: '2.16.0', productionUser: { modules: [] } });
    const { ctx } = context(s);
    const error = await applyPromotion(ctx, { allowDeletions: true, operator: 'ops-test' }).catch(
      (caught: unknown) => caught,
    );
    const message = (error as Error).message;
    expect(message).toBe(
      'Preflight failed; nothing was changed: ' +
        'versions: demo runs a newer Primero than production: demo 2.16.0 (reported), production 2.15.2 (reported); ' +
        'upgrade production first (Primero would not apply this configuration); ' +
        "production service account modules: lacks primeromodule-cp: Primero lists only the reports of the account's " +
        'own modules, so the plan could not see those reports; give the service account every module on production.',
    );
    expect(error).toMatchObject({
      hint: 'Fix what the failed checks name, then run `tier4 promote plan` again.',
    });
    expect(writes(s.production)).toEqual([]);
    expect(writes(s.demo)).toEqual([]);
    const [refused] = await audit(s);
    // The audit log keeps an error's first 300 characters (core/audit-log.ts).
    expect(refused).toMatchObject({ result: 'refused', error: message.slice(0, 300), fromVersion: '2.16.0' });
  });

  test('--backup without a backup engine stops before any site is contacted', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const { ctx } = context(s);
    const error = await applyPromotion(ctx, { backup: true }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      message: '--backup cannot run: backups not available in this version.',
      hint: 'Take a database backup by your usual means first, then run apply without --backup.',
      exitCode: 2,
    });
    expect(s.production.requests).toEqual([]);
    expect(s.demo.requests).toEqual([]);
  });
});

describe('a promotion that fails after it started: the step, the cause, the way back', () => {
  const rollbackHint = (s: PromotionSites, rollbackPoint: string) =>
    `To put back production's configuration from before this promotion: tier4 -c ${s.configFile} promote rollback --site production --to ${rollbackPoint}`;

  test('Primero fails the apply: the worker log is where the cause is, production is unchanged', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    s.production.applyBehaviour = 'error';
    const before = await productionFingerprint(s);
    const { ctx } = context(s, { hooks: { takeBackup: async () => ({ id: 'backup-7' }) } });
    const error = (await applyPromotion(ctx, { operator: 'ops-test', backup: true }).catch(
      (caught: unknown) => caught,
    )) as PromotionFailedError;
    expect(error).toBeInstanceOf(PromotionFailedError);
    const [, failed] = await audit(s);
    const { id, rollbackPoint, configurationId, configurationVersion } = failed as Record<string, string>;
    expect(error.step).toBe('apply');
    expect(error.rollbackPoint).toBe(rollbackPoint);
    expect(error.message).toBe(
      `Promotion ${id} failed at step apply: production: Primero did not apply the configuration: it locked its API, then unlocked it without setting applied_on.`,
    );
    expect(error.hint).toBe(
      `${describeOutcome('production', 1, { status: 'failed', sawLock: true }).hint}\n${rollbackHint(s, rollbackPoint!)}`,
    );
    expect(failed).toStrictEqual({
      ...runRecord(id, SUMMARY_ADDITIVE),
      result: 'failed',
      finishedAt: expect.any(String),
      failedStep: 'apply',
      error:
        'production: Primero did not apply the configuration: it locked its API, then unlocked it without setting applied_on.',
      rollbackPoint,
      configurationId,
      configurationVersion,
      backupId: 'backup-7',
    });
    expect(configurationId).toMatch(UUID);
    expect(s.production.configurations.get(configurationId!)!.version).toBe(configurationVersion);
    expect(await productionFingerprint(s)).toEqual(before);
  });

  test('production is older than the configuration: refused before the apply is queued', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const { ctx } = context(s);
    const error = (await applyPromotion(ctx, {
      // Production is rolled back to an older release while the operator reads the plan.
      confirm: async () => {
        s.production.version = '2.15.1';
        return true;
      },
    }).catch((caught: unknown) => caught)) as PromotionFailedError;
    const [, failed] = await audit(s);
    const { id, rollbackPoint, configurationVersion } = failed as Record<string, string>;
    expect(error.step).toBe('check');
    expect(error.message).toBe(
      `Promotion ${id} failed at step check: production's Primero is older than configuration ${configurationVersion} (made on 2.15.2): Primero would silently skip the apply.`,
    );
    expect(error.hint).toBe(
      `Upgrade production to at least 2.15.2 first.\nproduction's configuration was not changed (the apply was never queued). ${rollbackHint(s, rollbackPoint!)}`,
    );
    expect(writes(s.production).filter((line) => line.startsWith('PATCH'))).toEqual([]);
  });

  test('the promoted configuration never reaches production: the transfer times out', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration(), demoReachesProduction: false });
    const { ctx } = context(s, { timing: { transferTimeout: 300 } });
    const error = (await applyPromotion(ctx, {}).catch((caught: unknown) => caught)) as PromotionFailedError;
    const [, failed] = await audit(s);
    const { id, rollbackPoint, configurationId } = failed as Record<string, string>;
    expect(error.step).toBe('transfer');
    expect(error.message).toBe(
      `Promotion ${id} failed at step transfer: production did not receive configuration ${configurationId} from demo within 0s.`,
    );
    expect(error.hint).toBe(
      "demo's promote job needs PRIMERO_PROMOTE_CONFIG_PROD_HOST/_PORT/_TLS/_BASIC_AUTH pointing at production and must be able to reach it; errors appear only in demo's worker log. Where demo cannot reach production, set promotion.transfer: database.\n" +
        `production's configuration was not changed (the apply was never queued). ${rollbackHint(s, rollbackPoint!)}`,
    );
    expect(failed).toMatchObject({ failedStep: 'transfer', configurationId, rollbackPoint });
  });

  test('the worker never runs the apply: a timeout that says the apply never started', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    s.production.applyBehaviour = 'never';
    const { ctx } = context(s, { timing: { applyTimeout: 2000 } });
    const error = (await applyPromotion(ctx, {}).catch((caught: unknown) => caught)) as PromotionFailedError;
    const [, failed] = await audit(s);
    const { id, rollbackPoint } = failed as Record<string, string>;
    expect(error.message).toBe(
      `Promotion ${id} failed at step apply: production: applied_on was not set within 2s and the apply never appeared to start.`,
    );
    expect(error.hint).toBe(
      `${describeOutcome('production', 1, { status: 'timeout', sawLock: false, stillLocked: false }).hint}\n${rollbackHint(s, rollbackPoint!)}`,
    );
  });

  test('what apply cannot carry: the check after apply fails, naming what still differs (not what is kept)', async () => {
    // ContactInformation is upserted by name: a renamed helpdesk is a second row, and the view shows the first.
    const demo = additiveConfiguration();
    demo.ContactInformation[0]!.name = 'Child helpline';
    const production = baselineConfiguration();
    production.Role.push({ unique_id: 'role-production-only', name: 'Auditor', permissions: {} });
    const s = await start({ demoConfiguration: demo, productionConfiguration: production });
    const { ctx } = context(s);
    const error = (await applyPromotion(ctx, {}).catch((caught: unknown) => caught)) as PromotionFailedError;
    const [, failed] = await audit(s);
    const { id, rollbackPoint } = failed as Record<string, string>;
    expect(error.step).toBe('verify');
    expect(error.message).toBe(
      `Promotion ${id} failed at step verify: Verification failed: after the apply, production still differs from demo in 1 item(s): change contact information contact_information.`,
    );
    expect(error.hint).toBe(
      `Run \`tier4 promote plan\` to see the differences.\n${rollbackHint(s, rollbackPoint!)}`,
    );
  });

  test('field types apply cannot change: the check names the first ten forms that still differ', async () => {
    // Field.attr_readonly :name, :type, :multi_select (Primero app/models/field.rb): an apply never changes
    // the type of an existing field, so a form whose field changed type still differs after the apply.
    const forms = (type: string) =>
      Array.from({ length: 11 }, (_, n) => ({
        unique_id: `form_${String(n + 1).padStart(2, '0')}`,
        name: { en: `Form ${n + 1}` },
        parent_form: 'case',
        module_ids: ['primeromodule-cp'],
        fields: [{ name: 'x', type, order: 0 }],
      }));
    const demo = baselineConfiguration();
    demo.FormSection = forms('date_field');
    const production = baselineConfiguration();
    production.FormSection = forms('text_field');
    const s = await start({ demoConfiguration: demo, productionConfiguration: production });
    const { ctx } = context(s);
    const error = (await applyPromotion(ctx, { allowDeletions: true }).catch(
      (caught: unknown) => caught,
    )) as PromotionFailedError;
    const [, failed] = await audit(s);
    const names = Array.from({ length: 10 }, (_, n) => `change form form_${String(n + 1).padStart(2, '0')}`);
    expect(error.message).toBe(
      `Promotion ${failed!.id} failed at step verify: Verification failed: after the apply, production still differs from demo in 11 item(s): ${names.join(', ')}.`,
    );
  });

  test('the promoted configuration vanishes from production before the apply: nothing is applied', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    // Production answers the promoted configuration once (the wait for the transfer sees it), then loses it.
    const sim = s.production as unknown as {
      handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    };
    const handle = sim.handle.bind(s.production);
    const seen = new Set<string>();
    sim.handle = async (req, res) => {
      const id = /^\/api\/v2\/configurations\/([0-9a-f-]{36})$/.exec(req.url ?? '')?.[1];
      const stored = id ? s.production.configurations.get(id) : undefined;
      if (id && stored?.name?.startsWith('tier4 promotion')) {
        if (seen.has(id)) s.production.configurations.delete(id);
        seen.add(id);
      }
      return handle(req, res);
    };
    const { ctx } = context(s);
    const error = (await applyPromotion(ctx, {}).catch((caught: unknown) => caught)) as PromotionFailedError;
    const [, failed] = await audit(s);
    const { id, rollbackPoint, configurationId } = failed as Record<string, string>;
    expect(error.step).toBe('check');
    expect(error.message).toBe(
      `Promotion ${id} failed at step check: production lost configuration ${configurationId} before it could be applied.`,
    );
    expect(error.hint).toBe(
      `production's configuration was not changed (the apply was never queued). ${rollbackHint(s, rollbackPoint!)}`,
    );
    expect(writes(s.production).filter((line) => line.startsWith('PATCH'))).toEqual([]);
  });

  test('demo edited after the plan: stops before production receives anything, naming the first five edits', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const { ctx } = context(s);
    const error = (await applyPromotion(ctx, {
      confirm: async () => {
        const identity = s.demo.state.FormSection.find((form) => form.unique_id === 'basic_identity')!;
        (identity.name as Record<string, string>).en = 'Identity (edited)';
        for (const n of [1, 2, 3, 4, 5])
          s.demo.state.Role.push({ id: 900 + n, unique_id: `role-new-${n}`, name: `New ${n}` });
        return true;
      },
    }).catch((caught: unknown) => caught)) as PromotionFailedError;
    const [, failed] = await audit(s);
    const { id, rollbackPoint } = failed as Record<string, string>;
    expect(error.step).toBe('snapshot-demo');
    expect(error.message).toBe(
      `Promotion ${id} failed at step snapshot-demo: demo's configuration changed after the plan was computed (FormSection:basic_identity, Role:role-new-1, Role:role-new-2, Role:role-new-3, Role:role-new-4); nothing was sent to production.`,
    );
    expect(error.hint).toBe(
      "Run `tier4 promote plan` again once nobody is editing demo's configuration.\n" +
        `production's configuration was not changed (the apply was never queued). ${rollbackHint(s, rollbackPoint!)}`,
    );
    expect(writes(s.production)).toEqual(['POST /api/v2/configurations']);
  });

  test('a form renamed on demo after the plan is an edit too', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const { ctx } = context(s);
    const error = (await applyPromotion(ctx, {
      confirm: async () => {
        const form = s.demo.state.FormSection.find((row) => row.unique_id === 'protection_concerns')!;
        (form.name as Record<string, string>).en = 'Concerns';
        return true;
      },
    }).catch((caught: unknown) => caught)) as PromotionFailedError;
    expect(error.message).toContain(
      "demo's configuration changed after the plan was computed (FormSection:protection_concerns); nothing was sent to production.",
    );
  });

  test('production refuses the rollback point: the step is named, nothing was changed', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const { ctx } = context(s);
    const error = (await applyPromotion(ctx, {
      // The service account loses primero_configuration: manage while the operator reads the plan.
      confirm: async () => {
        s.production.users[0]!.manageConfiguration = false;
        return true;
      },
    }).catch((caught: unknown) => caught)) as PromotionFailedError;
    const [, failed] = await audit(s);
    expect(error.step).toBe('snapshot-production');
    expect(error.rollbackPoint).toBeUndefined();
    expect(error.message).toMatch(
      new RegExp(
        `^Promotion ${failed!.id} failed at step snapshot-production: production: POST /api/v2/configurations was forbidden \\(403\\)`,
      ),
    );
    expect(error.hint).toMatch(/\nNothing was changed on either site\.$/);
    expect(failed).toMatchObject({ result: 'failed', failedStep: 'snapshot-production' });
    expect(writes(s.demo)).toEqual([]);
  });

  test('a role added on demo after the plan is an edit too', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const { ctx } = context(s);
    const error = (await applyPromotion(ctx, {
      confirm: async () => {
        s.demo.state.Role.push({ id: 901, unique_id: 'role-late', name: 'Late' });
        return true;
      },
    }).catch((caught: unknown) => caught)) as PromotionFailedError;
    expect(error.message).toContain(
      "demo's configuration changed after the plan was computed (Role:role-late)",
    );
  });

  test('a failure before the rollback point is saved: nothing was changed on either site', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const { ctx } = context(s, {
      hooks: {
        takeBackup: async () => {
          throw new Error('disk full');
        },
      },
    });
    const error = (await applyPromotion(ctx, { backup: true }).catch(
      (caught: unknown) => caught,
    )) as PromotionFailedError;
    const [started, failed] = await audit(s);
    expect(error.step).toBe('backup');
    expect(error.rollbackPoint).toBeUndefined();
    expect(error.message).toBe(`Promotion ${started!.id} failed at step backup: disk full`);
    expect(error.hint).toBe('Nothing was changed on either site.');
    const { before: _before, ...startedWithoutBefore } = started!;
    expect(failed).toStrictEqual({
      ...startedWithoutBefore,
      result: 'failed',
      finishedAt: expect.any(String),
      failedStep: 'backup',
      error: 'disk full',
    });
    expect(writes(s.production)).toEqual([]);
  });
});

describe('what an apply that did not finish means', () => {
  test('failed, still locked past the timeout, never started, or started and unlocked without applied_on', () => {
    expect(describeOutcome('production', 90_400, { status: 'failed', sawLock: true })).toEqual({
      message:
        'production: Primero did not apply the configuration: it locked its API, then unlocked it without setting applied_on.',
      hint: 'Primero rolled its transaction back and logged the cause only in the worker log ("Could not apply configuration ..."): read it with `kubectl logs` on the worker. A Primero older than the configuration\'s primero_version also unlocks without applying anything.',
    });
    expect(
      describeOutcome('production', 90_600, { status: 'timeout', sawLock: true, stillLocked: true }),
    ).toEqual({
      message:
        'production: the apply was still running after 91s (the API is locked, /health/api answers 503).',
      hint: 'Large configurations can take long: watch /health/api and the worker log; raise promotion.timing.applyTimeout. Do not start another apply meanwhile.',
    });
    const worker =
      "Primero's worker runs applies from the delayed_jobs queue: check that the worker is running and its log " +
      '("Could not apply configuration ..."), then raise promotion.timing.applyTimeout if it is only slow.';
    expect(
      describeOutcome('prod', 900_000, { status: 'timeout', sawLock: false, stillLocked: false }),
    ).toEqual({
      message: 'prod: applied_on was not set within 900s and the apply never appeared to start.',
      hint: worker,
    });
    expect(describeOutcome('prod', 1_400, { status: 'timeout', sawLock: true, stillLocked: false })).toEqual({
      message: 'prod: applied_on was not set within 1s.',
      hint: worker,
    });
  });
});

describe('configuration drift (tier4 doctor)', () => {
  test('out of sync: the exact counts; in sync after a promotion; undefined without a promotion block', async () => {
    const s = await start();
    const loaded = loadConfig(s.configFile);
    expect(await configurationDrift(loaded, { env: s.env })).toStrictEqual({
      from: 'demo',
      to: 'production',
      inSync: false,
      changes: 9,
      destructive: 3,
    });
    await applyPromotion({ loaded, env: s.env }, { allowDeletions: true });
    expect(await configurationDrift(loaded, { env: s.env })).toStrictEqual({
      from: 'demo',
      to: 'production',
      inSync: true,
      changes: 0,
      destructive: 0,
    });
    const { promotion: _promotion, ...rest } = loaded.config;
    const requests = s.production.requests.length;
    expect(await configurationDrift({ ...loaded, config: rest }, { env: s.env })).toBeUndefined();
    expect(s.production.requests.length).toBe(requests);
  });

  test('only additions: in sync is false, nothing destructive', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    expect(await configurationDrift(loadConfig(s.configFile), { env: s.env })).toStrictEqual({
      from: 'demo',
      to: 'production',
      inSync: false,
      changes: 6,
      destructive: 0,
    });
  });

  test('the caller’s credentials and abort signal are the ones used', async () => {
    const s = await start();
    const loaded = loadConfig(s.configFile);
    // Without the env that holds the service accounts' passwords, the sites cannot be read.
    await expect(configurationDrift(loaded, { env: {} })).rejects.toThrow(
      /PROD_PRIMERO_PASSWORD|DEMO_PRIMERO_PASSWORD/,
    );
    const aborted = AbortSignal.abort();
    await expect(configurationDrift(loaded, { env: s.env, signal: aborted })).rejects.toThrow();
    expect(s.production.requests.filter((line) => line.startsWith('GET /api/v2/forms'))).toEqual([]);
  });
});
