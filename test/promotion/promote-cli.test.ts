import { readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, test } from 'vitest';
import { runCli } from '../../cli/main.js';
import { captureOutput } from '../support/capture.js';
import { tier4 } from '../support/cli.js';
import { FORMS_STAMPED_AT } from '../support/primero-simulator.js';
import {
  additiveConfiguration,
  baselineConfiguration,
  comparable,
  EDITED_AT,
  editedConfiguration,
  type PromotionSites,
  SHORT_WAITS,
  type SiteSetup,
  startPromotionSites,
} from '../support/primero-simulator-sites.js';

let sites: PromotionSites | undefined;

afterEach(async () => {
  await sites?.stop();
  sites = undefined;
});

async function start(setup: SiteSetup = {}): Promise<PromotionSites> {
  sites = await startPromotionSites(setup);
  return sites;
}

function run(s: PromotionSites, ...args: string[]) {
  return tier4(s.args(...args), { env: s.env, cwd: s.dir });
}

const APPLY = ['promote', 'apply', '--yes', '--confirm', 'production', '--operator', 'ops-test'];

async function auditLines(s: PromotionSites): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(s.auditLog, 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('tier4 promote plan', () => {
  test('shows the exact diff, down to fields and values, with deletions standing out', async () => {
    const s = await start();
    const result = await run(s, 'promote', 'plan');
    expect(result.stderr).not.toContain('error');
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toContain('Promotion plan: demo (2.15.2) → production (2.15.2)');
    expect(out).toMatch(/ok\s+demo \/health/);
    // Production's backup repository is not reachable from this fixture: a warning, not a block.
    expect(out).toMatch(/WARN\s+production backup\s+could not check production's backups/);
    // forms and fields
    expect(out).toContain('+ psychosocial_support "Psychosocial Support" (1 field)');
    expect(out).toContain('~ basic_identity "Basic Identity"');
    expect(out).toContain('+ field date_of_birth');
    expect(out).toContain('~ field age');
    expect(out).toContain('display_name.en: "Age" → "Age (years)"');
    expect(out).toContain('- DELETE legacy_assessment "Legacy Assessment" (1 field)');
    // lookups and values
    expect(out).toContain('+ value trafficked');
    expect(out).toContain('- DELETE lookup-legacy-scores');
    // roles and permissions
    expect(out).toContain('+ role-pss-officer');
    expect(out).toContain(
      'permissions.case: ["read","write","flag"] → ["read","write","flag","export_custom"]',
    );
    // reports (matched without unique_id: Primero's report API does not show it)
    expect(out).toContain('- DELETE case/primeromodule-cp/Legacy scores');
    expect(out).not.toContain('Registration CP');
    // contact information, without the server's own version
    expect(out).toContain('phone: "" → "+1 555 0100"');
    expect(out).not.toContain('system_version');
    expect(out).toContain('DESTRUCTIVE: apply deletes 3 item(s) from production');
    expect(out).toContain('apply needs --allow-deletions');
    // A plan changes nothing.
    expect(s.production.writes()).toEqual([]);
    expect(s.demo.writes()).toEqual([]);
  });

  test('--json is complete: every item and every property change', async () => {
    const s = await start();
    const result = await run(s, '--json', 'promote', 'plan');
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(plan.ok).toBe(true);
    expect(plan.diff.summary).toMatchObject({ added: 2, changed: 4, removed: 3, destructive: 3, changes: 9 });
    const identity = plan.diff.items.find((item: { key: string }) => item.key === 'basic_identity');
    expect(identity.children).toEqual([
      {
        kind: 'field',
        key: 'age',
        action: 'change',
        changes: [
          { path: 'display_name.en', before: 'Age', after: 'Age (years)' },
          // Field#configuration_hash carries updated_at: apply writes demo's time.
          { path: 'updated_at', before: FORMS_STAMPED_AT, after: EDITED_AT },
        ],
      },
      { kind: 'field', key: 'date_of_birth', action: 'add', changes: [] },
    ]);
    const removed = plan.diff.items.filter((item: { destructive: boolean }) => item.destructive);
    expect(removed.map((item: { model: string; key: string }) => `${item.model}:${item.key}`)).toEqual([
      'FormSection:legacy_assessment',
      'Lookup:lookup-legacy-scores',
      'Report:case/primeromodule-cp/Legacy scores',
    ]);
  });

  test('production-only roles are kept, not deleted, and not counted as changes', async () => {
    const production = baselineConfiguration();
    production.Role.push({ unique_id: 'role-prod-only', name: 'Prod only', permissions: {} });
    const s = await start({
      demoConfiguration: baselineConfiguration(),
      productionConfiguration: production,
    });
    const result = await run(s, '--json', 'promote', 'plan');
    const plan = JSON.parse(result.stdout);
    expect(plan.diff.summary).toMatchObject({ changes: 0, kept: 1, destructive: 0 });
    expect(plan.diff.items[0]).toMatchObject({
      model: 'Role',
      key: 'role-prod-only',
      action: 'keep',
      destructive: false,
    });
  });

  test('--detailed-exitcode: 0 with nothing to promote, 2 with changes, 1 when blocked', async () => {
    const same = await start({
      demoConfiguration: baselineConfiguration(),
      productionConfiguration: baselineConfiguration(),
    });
    expect((await run(same, 'promote', 'plan', '--detailed-exitcode')).code).toBe(0);
    const changed = await start();
    const plan = await run(changed, 'promote', 'plan', '--detailed-exitcode');
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stdout).toContain('DESTRUCTIVE');
    expect((await run(changed, 'promote', 'plan')).code).toBe(0);
    const blocked = await start({ demoVersion: '2.16.0', productionVersion: '2.15.2' });
    expect((await run(blocked, 'promote', 'plan', '--detailed-exitcode')).code).toBe(1);
  });

  test('a demo newer than production blocks the plan (exit 1)', async () => {
    const s = await start({ demoVersion: '2.16.0', productionVersion: '2.15.2' });
    const result = await run(s, 'promote', 'plan');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL\s+versions\s+demo runs a newer Primero than production/);
    expect(result.stdout).toContain('Blocked: a preflight check failed');
  });

  test('a site that is down: exit 1, saying which and where', async () => {
    const s = await start();
    await s.production.stop();
    const result = await run(s, 'promote', 'plan');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL\s+production \/health\s+unreachable \(ECONNREFUSED/);
    expect(s.demo.writes()).toEqual([]);
  });

  test('a database that is down (/health 503) blocks the plan', async () => {
    const s = await start();
    s.production.databaseDown = true;
    const result = await run(s, 'promote', 'plan');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL\s+production \/health\s+HTTP 503/);
  });

  test('a site in the middle of an apply (/health/api 503) blocks the plan at once', async () => {
    const s = await start();
    s.production.locked = true;
    const result = await run(s, 'promote', 'plan');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /FAIL\s+production \/health\/api\s+HTTP 503: a configuration is being applied right now/,
    );
    expect(s.production.requests.filter((line) => line.startsWith('GET /api/v2/'))).toEqual([]);
    s.production.locked = false;
  });

  test('bad credentials (401): exit 1, a clear message, and no secret printed', async () => {
    const s = await start();
    const wrong = 'T4LEAK-wrong-password-0001';
    const result = await tier4(s.args('promote', 'plan'), {
      env: { ...s.env, PROD_PRIMERO_PASSWORD: wrong },
      cwd: s.dir,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'production: GET /api/v2/contact_information was refused: the credentials were not accepted (401)',
    );
    expect(result.stderr).toContain('sites.production.primero.auth');
    expect(result.stdout + result.stderr).not.toContain('T4LEAK');
  });

  test('missing permission (403): exit 1 naming primero_configuration: manage', async () => {
    const s = await start({ productionManage: false });
    const result = await run(s, 'promote', 'plan');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "production: GET /api/v2/configurations was forbidden (403): the service account's role lacks the permission `primero_configuration: manage`",
    );
  });
});

describe('tier4 promote apply', () => {
  test('refuses a destructive plan without --allow-deletions and changes nothing', async () => {
    const s = await start();
    const before = comparable(s.production);
    const result = await run(s, ...APPLY);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Refused: this promotion would delete 3 item(s) from production');
    expect(result.stderr).toContain('form legacy_assessment, lookup lookup-legacy-scores');
    expect(result.stderr).toContain('--allow-deletions');
    expect(s.production.writes()).toEqual([]);
    expect(s.demo.writes()).toEqual([]);
    expect(s.production.configurations.size).toBe(0);
    expect(comparable(s.production)).toEqual(before);
    const [refused] = await auditLines(s);
    expect(refused).toMatchObject({ kind: 'promotion', result: 'refused', operator: 'ops-test' });
  });

  test('with --allow-deletions: promotes, applies, leaves production equal to demo, and verifies', async () => {
    const s = await start();
    const result = await run(s, '--json', ...APPLY, '--allow-deletions');
    expect(result.stderr).not.toContain('error:');
    expect(result.code).toBe(0);
    const done = JSON.parse(result.stdout);
    expect(done).toMatchObject({
      ok: true,
      status: 'applied',
      verified: true,
      from: 'demo',
      to: 'production',
    });
    expect(comparable(s.production)).toEqual(comparable(s.demo));
    // The rollback point and the promoted configuration are both on production; the promoted one is applied.
    const rollbackPoint = s.production.configurations.get(done.rollbackPoint)!;
    expect(rollbackPoint.name).toContain('tier4 rollback point');
    expect(rollbackPoint.data.FormSection!.map((form) => form.unique_id)).toContain('legacy_assessment');
    expect(s.production.configurations.get(done.configurationId)!.applied_on).not.toBeNull();
    // demo's own promote carried it: production received it from demo, not from tier4.
    expect(s.production.requests.filter((line) => line === 'POST /api/v2/configurations')).toHaveLength(2);
    const lines = await auditLines(s);
    expect(lines.map((line) => line.result)).toEqual(['started', 'succeeded']);
    const history = await run(s, 'promote', 'history');
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(
      /promotion\s+succeeded\s+ops-test\s+demo → production\s+2\.15\.2 → 2\.15\.2\s+\+2 ~4 -3/,
    );
    expect(history.stdout).toContain(done.rollbackPoint);
    const plan = await run(s, '--json', 'promote', 'plan');
    expect(JSON.parse(plan.stdout).diff.summary.changes).toBe(0);
  });

  test('a non-destructive plan applies without --allow-deletions', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const result = await run(s, ...APPLY);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('applied and verified');
    expect(comparable(s.production)).toEqual(comparable(s.demo));
  });

  test('nothing to promote: exit 0 and no writes', async () => {
    const s = await start({ demoConfiguration: baselineConfiguration() });
    const result = await run(s, ...APPLY);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Nothing to promote');
    expect(s.production.writes()).toEqual([]);
  });

  test('a version mismatch refuses and changes nothing', async () => {
    const s = await start({ demoVersion: '2.16.0' });
    const result = await run(s, ...APPLY, '--allow-deletions');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'Preflight failed; nothing was changed: versions: demo runs a newer Primero',
    );
    expect(s.production.writes()).toEqual([]);
    expect(s.demo.writes()).toEqual([]);
  });

  test('an apply that fails on the server: exit 1, the cause, and the exact rollback command', async () => {
    // Deterministic under load: the simulated worker fails only once tier4 has seen its lock, and the
    // timeout (TEST_TIMING) is far beyond anything this needs (it returns as soon as the lock is gone).
    const s = await start();
    s.production.applyBehaviour = 'error';
    const before = comparable(s.production);
    const result = await run(s, ...APPLY, '--allow-deletions');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('failed at step apply');
    expect(result.stderr).toContain('locked its API, then unlocked it without setting applied_on');
    const command = /tier4 -c \S+ promote rollback --site production --to ([0-9a-f-]{36})/.exec(
      result.stderr,
    );
    expect(command).not.toBeNull();
    expect(s.production.configurations.get(command![1]!)?.name).toContain('rollback point');
    expect(comparable(s.production)).toEqual(before);
    expect(s.production.log.join('\n')).toContain('Could not apply configuration');
    const lines = await auditLines(s);
    expect(lines.at(-1)).toMatchObject({ result: 'failed', failedStep: 'apply', rollbackPoint: command![1] });
  });

  test('a timeout (the worker never runs the apply): exit 1 with guidance', async () => {
    const s = await start({ promotion: { timing: SHORT_WAITS } });
    s.production.applyBehaviour = 'never';
    const result = await run(s, ...APPLY, '--allow-deletions');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('applied_on was not set within 3s and the apply never appeared to start');
    expect(result.stderr).toContain('check that the worker is running');
    expect(result.stderr).toMatch(/promote rollback --site production --to [0-9a-f-]{36}/);
  });

  test('an apply that holds the lock past the timeout says so', async () => {
    const s = await start({ promotion: { timing: SHORT_WAITS } });
    s.production.applyBehaviour = 'stuck';
    const result = await run(s, ...APPLY, '--allow-deletions');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the apply was still running after 3s');
    s.production.locked = false;
  });

  test('demo cannot reach production: the transfer times out with the way out', async () => {
    const s = await start({ demoReachesProduction: false, promotion: { timing: SHORT_WAITS } });
    const result = await run(s, ...APPLY, '--allow-deletions');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('production did not receive configuration');
    expect(result.stderr).toContain('promotion.transfer: database');
    expect(result.stderr).toContain("production's configuration was not changed");
  });

  test('--backup that cannot run stops the promotion before anything is written', async () => {
    const s = await start();
    const result = await run(s, ...APPLY, '--backup');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('PROD_BACKUP_INTEGRITY_KEY is not set');
    expect(s.production.writes()).toEqual([]);
    expect(s.demo.writes()).toEqual([]);
  });

  test('not a terminal and no --yes --confirm: exit 2, nothing contacted', async () => {
    const s = await start();
    const result = await run(s, 'promote', 'apply');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --yes --confirm production');
    const wrong = await run(s, 'promote', 'apply', '--yes', '--confirm', 'demo');
    expect(wrong.code).toBe(2);
    expect(s.production.requests).toEqual([]);
  });
});

/** A read view of a simulated site, as its service account sees it. */
async function view(s: PromotionSites, site: 'demo' | 'production', path: string) {
  const password = site === 'demo' ? s.env.DEMO_PRIMERO_PASSWORD : s.env.PROD_PRIMERO_PASSWORD;
  const reply = await fetch(`${s[site].url}/api/v2/${path}`, {
    headers: { authorization: `Basic ${Buffer.from(`tier4-service:${password}`).toString('base64')}` },
  });
  return ((await reply.json()) as { data: unknown }).data;
}

type Row = Record<string, unknown> & { fields?: Array<Record<string, unknown>> };

/** The database id the forms view gives for basic_identity's subform field, and the subform's own id. */
async function subformIds(s: PromotionSites, site: 'demo' | 'production') {
  const forms = (await view(s, site, 'forms')) as Row[];
  const parent = forms.find((form) => form.unique_id === 'basic_identity')!;
  const link = parent.fields!.find((field) => field.name === 'family_details_section')!;
  const subform = forms.find((form) => form.unique_id === 'family_details_section')!;
  return { reference: link.subform_section_id, subform: subform.id };
}

describe('two real sites: their own database ids and timestamps', () => {
  test('plan → apply → verify → rollback between sites whose ids differ', async () => {
    const s = await start();
    // The premise: the same subform has different database ids on the two sites, and so does the
    // reference to it; contact information carries each site's own timestamps.
    const demoIds = await subformIds(s, 'demo');
    const productionIds = await subformIds(s, 'production');
    expect(demoIds.reference).toBe(demoIds.subform);
    expect(productionIds.reference).toBe(productionIds.subform);
    expect(demoIds.reference).not.toBe(productionIds.reference);
    const demoContact = (await view(s, 'demo', 'contact_information')) as Row;
    const productionContact = (await view(s, 'production', 'contact_information')) as Row;
    expect(demoContact.created_at).not.toBe(productionContact.created_at);

    const plan = await run(s, '--json', 'promote', 'plan');
    expect(plan.code).toBe(0);
    const items = JSON.parse(plan.stdout).diff.items as Array<{ model: string; key: string; action: string }>;
    // Only demo's real edits: not the subform, not the timestamps contact information cannot carry.
    expect(items.map((item) => `${item.action} ${item.model}:${item.key}`)).toEqual([
      'change FormSection:basic_identity',
      'add FormSection:psychosocial_support',
      'remove FormSection:legacy_assessment',
      'change Lookup:lookup-protection-concerns',
      'remove Lookup:lookup-legacy-scores',
      'change Role:role-cp-case-worker',
      'add Role:role-pss-officer',
      'remove Report:case/primeromodule-cp/Legacy scores',
      'change ContactInformation:contact_information',
    ]);
    const contact = JSON.parse(plan.stdout).diff.items.at(-1);
    expect(contact.changes).toEqual([{ path: 'phone', before: '', after: '+1 555 0100' }]);

    const applied = await run(s, '--json', ...APPLY, '--allow-deletions');
    expect(applied.stderr).not.toContain('error:');
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ status: 'applied', verified: true });
    // Production resolved the reference to its own row of the subform.
    const after = await subformIds(s, 'production');
    expect(after.reference).toBe(after.subform);
    expect(after.reference).not.toBe(demoIds.reference);
    const replan = await run(s, '--json', 'promote', 'plan');
    expect(JSON.parse(replan.stdout).diff.summary.changes).toBe(0);

    const rolledBack = await run(s, 'promote', 'rollback', '--yes', '--confirm', 'production');
    expect(rolledBack.stderr).not.toContain('error:');
    expect(rolledBack.code).toBe(0);
    expect(rolledBack.stdout).toContain('and verified it');
  });

  test('what apply cannot carry fails the check after apply: exit 1, the difference, the way back', async () => {
    // ContactInformation is upserted by name (unique_id_attribute 'name'), and the view shows the first
    // row: a renamed contact is added on production, and production keeps showing the old one.
    const demo = additiveConfiguration();
    demo.ContactInformation[0]!.name = 'Child helpline';
    const s = await start({ demoConfiguration: demo });
    const result = await inProcess(s, new PassThrough(), ...APPLY);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'failed at step verify: Verification failed: after the apply, production still differs from demo in 1 item(s): change contact information contact_information.',
    );
    expect(result.stderr).toMatch(/promote rollback --site production --to [0-9a-f-]{36}/);
    // Primero did apply: everything else arrived; the contact information is a second row.
    expect(s.production.state.ContactInformation.map((row) => row.name)).toEqual([
      'CP helpdesk',
      'Child helpline',
    ]);
    const lines = await auditLines(s);
    expect(lines.at(-1)).toMatchObject({ result: 'failed', failedStep: 'verify' });
  });
});

describe('the service account', () => {
  test('a role limited to configuration passes; one that reaches records or users is a warning', async () => {
    const lean = await start();
    const ok = await run(lean, 'promote', 'plan');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ok\s+demo service account\s+no access to records or users/);
    expect(ok.stdout).toMatch(/ok\s+production service account\s+no access to records or users/);
    await lean.stop();
    sites = undefined;

    const broad = await start({
      productionUser: {
        permissions: {
          role: ['read'],
          user_group: ['read'],
          agency: ['read'],
          case: ['read', 'write'],
          family: ['read'],
          user: ['manage'],
        },
      },
    });
    const warned = await run(broad, 'promote', 'plan');
    expect(warned.code).toBe(0);
    expect(warned.stdout).toMatch(
      /WARN\s+production service account\s+its role \(role-tier4-service\) can reach records or users, beyond what promotion needs: cases: read, write; families: read; users: manage\./,
    );
    expect(warned.stdout).toContain('runbooks/configuration-promotion.md');
    expect(warned.stdout).toMatch(/ok\s+demo service account/);
  });

  test('an account without every module blocks: Primero would hide that module’s reports', async () => {
    const s = await start({ productionUser: { modules: [] } });
    const plan = await run(s, 'promote', 'plan');
    expect(plan.code).toBe(1);
    expect(plan.stdout).toMatch(
      /FAIL\s+production service account modules\s+lacks primeromodule-cp: Primero lists only the reports of the account's own modules/,
    );
    expect(plan.stdout).toMatch(/ok\s+demo service account modules\s+all 1 module\(s\)/);
    const apply = await run(s, ...APPLY, '--allow-deletions');
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain('Preflight failed; nothing was changed');
    expect(s.production.writes()).toEqual([]);
  });
});

/** Runs the CLI as on a terminal, typing `answer` at the prompt. */
function onTerminal(s: PromotionSites, answer: string, ...args: string[]) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  stdin.write(`${answer}\n`);
  return inProcess(s, stdin, ...args);
}

/**
 * Runs the CLI in this process (so mutation testing sees the code it runs); without a terminal unless stdin
 * says it is one.
 */
async function inProcess(
  s: PromotionSites,
  stdin: NodeJS.ReadableStream & { isTTY?: boolean },
  ...args: string[]
) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(s.args(...args), {
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text), isTTY: stdin.isTTY === true },
    stdin,
    env: { ...process.env, NO_COLOR: '1', ...s.env },
    cwd: s.dir,
  });
  captureOutput('cli.log', `$ tier4 ${args.join(' ')}\n${stdout}${stderr}\n`);
  return { code, stdout, stderr };
}

describe('confirmation on a terminal', () => {
  test('typing the site name goes ahead; anything else stops with nothing changed', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const no = await onTerminal(s, 'yes', 'promote', 'apply');
    expect(no.stderr).toContain('Type the site name (production) to go ahead');
    // One confirmation rule (#19): a refusal is exit 2 (it was 1), with the command line that confirms.
    expect(no.code).toBe(2);
    expect(no.stderr).toContain('The site name did not match; nothing was changed.');
    expect(no.stderr).toMatch(/Run: tier4 promote apply --to production -c \S+ --yes --confirm production/);
    expect(s.production.writes()).toEqual([]);

    const yes = await onTerminal(s, 'production', 'promote', 'apply');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('applied and verified');
    expect(comparable(s.production)).toEqual(comparable(s.demo));
  });
});

describe('one confirmation rule (#19)', () => {
  test('apply --yes without --confirm is refused on a terminal too, before any site is contacted', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const result = await onTerminal(s, 'production', 'promote', 'apply', '--yes');
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('Type the site name');
    expect(result.stderr).toContain('--yes also needs --confirm production');
    expect(s.production.requests).toEqual([]);
    expect(s.demo.requests).toEqual([]);
  });

  test('rollback: a wrong name typed on a terminal is exit 2 and applies nothing', async () => {
    const s = await start();
    const result = await onTerminal(s, 'prod', 'promote', 'rollback');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Type the site name (production) to go ahead');
    expect(result.stderr).toMatch(
      /Run: tier4 promote rollback --site production -c \S+ --yes --confirm production/,
    );
    expect(s.production.writes()).toEqual([]);
  });
});

describe('site choice', () => {
  test('--from a production site or --to a demo site is a usage error (exit 2)', async () => {
    const s = await start();
    const reversed = await run(s, 'promote', 'plan', '--from', 'production', '--to', 'demo');
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toContain('production is a production site');
    const unknown = await run(s, 'promote', 'plan', '--to', 'staging');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No site named "staging"');
    expect(s.production.requests).toEqual([]);
  });
});

describe('tier4 promote rollback', () => {
  test('restores the configuration production had before the promotion, and verifies it', async () => {
    const s = await start();
    const original = comparable(s.production);
    const applied = await run(s, ...APPLY, '--allow-deletions');
    expect(applied.code).toBe(0);
    expect(comparable(s.production)).not.toEqual(original);

    const result = await run(s, 'promote', 'rollback', '--yes', '--confirm', 'production');
    expect(result.stderr).not.toContain('error:');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Rolled back production to configuration');
    expect(result.stdout).toContain('and verified it');
    // Forms, lookups and reports are back; the role the promotion added stays (Primero never deletes roles).
    expect(result.stderr).toContain('Role:role-pss-officer was added by the promotion and remains');
    const now = comparable(s.production) as Record<string, Array<Record<string, unknown>>>;
    const was = original as Record<string, Array<Record<string, unknown>>>;
    for (const model of ['FormSection', 'Lookup', 'Report', 'Agency', 'UserGroup', 'ContactInformation']) {
      expect(now[model]).toEqual(was[model]);
    }
    expect(now.Role!.filter((role) => role.unique_id !== 'role-pss-officer')).toEqual(was.Role);
    const history = await run(s, '--json', 'promote', 'history');
    const runs = JSON.parse(history.stdout).runs;
    expect(runs.map((r: { kind: string; result: string }) => `${r.kind}:${r.result}`)).toEqual([
      'rollback:succeeded',
      'promotion:succeeded',
    ]);
    expect(JSON.stringify(runs)).not.toContain('helpdesk');
  });

  test('an unknown configuration id: exit 1, nothing applied', async () => {
    const s = await start();
    const result = await run(
      s,
      'promote',
      'rollback',
      '--to',
      '00000000-0000-4000-8000-000000000000',
      '--yes',
      '--confirm',
      'production',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('production has no configuration 00000000-0000-4000-8000-000000000000');
    expect(s.production.writes()).toEqual([]);
  });

  test('a configuration newer than production (Primero would silently skip it) is refused', async () => {
    const s = await start({ demoConfiguration: additiveConfiguration() });
    const applied = await run(s, '--json', ...APPLY);
    expect(applied.code).toBe(0);
    const { rollbackPoint } = JSON.parse(applied.stdout);
    s.production.version = '2.14.0'; // production restored onto an older release
    const result = await run(
      s,
      'promote',
      'rollback',
      '--to',
      rollbackPoint,
      '--yes',
      '--confirm',
      'production',
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Primero would silently skip it');
  });

  test('no promotion recorded and no --to: exit 2', async () => {
    const s = await start();
    const result = await run(s, 'promote', 'rollback', '--yes', '--confirm', 'production');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('records no promotion to production');
  });
});

describe('tier4 promote history', () => {
  test('empty log: says so', async () => {
    const s = await start({ demoConfiguration: editedConfiguration() });
    const result = await run(s, 'promote', 'history');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('No promotions recorded yet');
  });
});
