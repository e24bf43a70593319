import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from './cli.js';
import {
  type ConfigState,
  PrimeroSimulator,
  type SimUser,
  type SimulatorOptions,
  type StoredConfig,
} from './primero-simulator.js';
import { testSecret } from './secrets.js';

/** A demo and a production Primero simulator, and a tier4.yaml that points at them. */

export function baselineConfiguration(): ConfigState {
  return {
    FormSection: [
      {
        unique_id: 'basic_identity',
        name: { en: 'Basic Identity', fr: 'Identité' },
        description: { en: 'Basic identity' },
        parent_form: 'case',
        module_ids: ['primeromodule-cp'],
        visible: true,
        order: 10,
        order_form_group: 0,
        form_group_id: 'identification_registration',
        editable: true,
        fields: [
          { name: 'name', type: 'text_field', display_name: { en: 'Full name' }, visible: true, order: 0 },
          { name: 'age', type: 'numeric_field', display_name: { en: 'Age' }, visible: true, order: 1 },
          {
            name: 'nationality',
            type: 'select_box',
            display_name: { en: 'Nationality' },
            option_strings_source: 'lookup lookup-nationality',
            visible: true,
            order: 2,
          },
          {
            name: 'family_details_section',
            type: 'subform',
            display_name: { en: 'Family details' },
            subform_unique_id: 'family_details_section',
            visible: true,
            order: 3,
          },
        ],
      },
      {
        // A subform: its fields' collapsed_field_for_subform_section_id and the parent field's
        // subform_section_id are database ids, different on every site.
        unique_id: 'family_details_section',
        name: { en: 'Family details' },
        parent_form: 'case',
        module_ids: ['primeromodule-cp'],
        visible: false,
        is_nested: true,
        order: 0,
        form_group_id: 'identification_registration',
        editable: true,
        collapsed_field_names: ['relation_name'],
        fields: [
          {
            name: 'relation_name',
            type: 'text_field',
            display_name: { en: 'Name' },
            visible: true,
            order: 0,
          },
          { name: 'relation', type: 'select_box', display_name: { en: 'Relation' }, visible: true, order: 1 },
        ],
      },
      {
        unique_id: 'protection_concerns',
        name: { en: 'Protection Concerns' },
        parent_form: 'case',
        module_ids: ['primeromodule-cp'],
        visible: true,
        order: 20,
        form_group_id: 'assessment',
        editable: true,
        fields: [
          {
            name: 'protection_concerns',
            type: 'select_box',
            multi_select: true,
            display_name: { en: 'Protection concerns' },
            option_strings_source: 'lookup lookup-protection-concerns',
            visible: true,
            order: 0,
          },
        ],
      },
      {
        unique_id: 'legacy_assessment',
        name: { en: 'Legacy Assessment' },
        parent_form: 'case',
        module_ids: ['primeromodule-cp'],
        visible: true,
        order: 90,
        form_group_id: 'assessment',
        editable: true,
        fields: [
          {
            name: 'legacy_score',
            type: 'numeric_field',
            display_name: { en: 'Score' },
            visible: true,
            order: 0,
          },
        ],
      },
    ],
    Lookup: [
      {
        unique_id: 'lookup-nationality',
        name: { en: 'Nationality' },
        values: [
          { id: 'nationality1', display_text: { en: 'Nationality 1' } },
          { id: 'nationality2', display_text: { en: 'Nationality 2' } },
        ],
      },
      {
        unique_id: 'lookup-protection-concerns',
        name: { en: 'Protection Concerns' },
        values: [
          { id: 'caafag', display_text: { en: 'CAAFAG' } },
          { id: 'separated', display_text: { en: 'Separated' } },
        ],
      },
      {
        unique_id: 'lookup-legacy-scores',
        name: { en: 'Legacy scores' },
        values: [{ id: 'low', display_text: { en: 'Low' } }],
      },
    ],
    Agency: [
      {
        unique_id: 'agency-unicef',
        agency_code: 'UNICEF',
        order: 0,
        name: { en: 'UNICEF' },
        description: { en: '' },
        services: [],
        logo_enabled: false,
        disabled: false,
      },
    ],
    Role: [
      {
        unique_id: 'role-cp-case-worker',
        name: 'CP Case Worker',
        description: 'Case worker',
        group_permission: 'self',
        referral: false,
        transfer: false,
        disabled: false,
        is_manager: false,
        module_unique_ids: ['primeromodule-cp'],
        form_section_unique_ids: ['basic_identity', 'protection_concerns'],
        permissions: { case: ['read', 'write', 'flag'], incident: ['read'] },
      },
      {
        unique_id: 'role-cp-manager',
        name: 'CP Manager',
        description: 'Manager',
        group_permission: 'group',
        referral: true,
        transfer: true,
        disabled: false,
        is_manager: true,
        module_unique_ids: ['primeromodule-cp'],
        form_section_unique_ids: ['basic_identity', 'protection_concerns'],
        permissions: { case: ['read', 'assign'], report: ['read'] },
      },
    ],
    UserGroup: [
      {
        unique_id: 'usergroup-primero-cp',
        name: 'Primero CP',
        description: 'Default group',
        disabled: false,
        core_resource: true,
      },
    ],
    Report: [
      {
        unique_id: 'report-registration-cp',
        name: { en: 'Registration CP' },
        description: { en: 'Case registrations over time' },
        graph: true,
        graph_type: 'bar',
        record_type: 'case',
        module_id: 'primeromodule-cp',
        group_dates_by: 'month',
        group_ages: false,
        editable: false,
        disabled: false,
      },
      {
        unique_id: 'report-legacy',
        name: { en: 'Legacy scores' },
        description: { en: '' },
        graph: false,
        graph_type: 'bar',
        record_type: 'case',
        module_id: 'primeromodule-cp',
        group_ages: false,
        editable: true,
        disabled: false,
      },
    ],
    ContactInformation: [
      {
        name: 'CP helpdesk',
        organization: 'UNICEF',
        phone: '',
        email: 'helpdesk@example.org',
        support_forum: '',
      },
    ],
  };
}

/** The demo's configuration after a round of work: the changes every promotion test expects. */
/** When demo's edits were saved: Primero stamps updated_at, and a promotion carries it (forms and fields). */
export const EDITED_AT = '2026-03-02T09:30:00.000Z';

export function editedConfiguration(): ConfigState {
  const config = baselineConfiguration();
  const identity = config.FormSection[0]!;
  const age = (identity.fields as Array<Record<string, unknown>>)[1]!;
  age.display_name = { en: 'Age (years)' };
  age.updated_at = EDITED_AT;
  (identity.fields as Array<Record<string, unknown>>).push({
    name: 'date_of_birth',
    type: 'date_field',
    display_name: { en: 'Date of birth' },
    visible: true,
    order: 4,
    created_at: EDITED_AT,
    updated_at: EDITED_AT,
  });
  // Adding a field touches the form (FormSection's after_add :touch_on_field_add).
  identity.updated_at = EDITED_AT;
  config.FormSection.push({
    unique_id: 'psychosocial_support',
    name: { en: 'Psychosocial Support' },
    created_at: EDITED_AT,
    updated_at: EDITED_AT,
    parent_form: 'case',
    module_ids: ['primeromodule-cp'],
    visible: true,
    order: 30,
    form_group_id: 'services',
    editable: true,
    fields: [
      {
        name: 'pss_provided',
        type: 'tick_box',
        display_name: { en: 'PSS provided' },
        visible: true,
        order: 0,
      },
    ],
  });
  // Demo dropped the legacy form, lookup and report: applying deletes them on production.
  config.FormSection = config.FormSection.filter((form) => form.unique_id !== 'legacy_assessment');
  config.Lookup = config.Lookup.filter((lookup) => lookup.unique_id !== 'lookup-legacy-scores');
  config.Report = config.Report.filter((report) => report.unique_id !== 'report-legacy');
  (config.Lookup[1]!.values as Array<Record<string, unknown>>).push({
    id: 'trafficked',
    display_text: { en: 'Trafficked' },
  });
  (config.Role[0]!.permissions as Record<string, string[]>).case!.push('export_custom');
  config.Role.push({
    unique_id: 'role-pss-officer',
    name: 'PSS Officer',
    description: 'Psychosocial support',
    group_permission: 'self',
    referral: false,
    transfer: false,
    disabled: false,
    is_manager: false,
    module_unique_ids: ['primeromodule-cp'],
    form_section_unique_ids: ['psychosocial_support'],
    permissions: { case: ['read'] },
  });
  config.ContactInformation[0]!.phone = '+1 555 0100';
  return config;
}

/** Not destructive: the edits without the deletions. */
export function additiveConfiguration(): ConfigState {
  const edited = editedConfiguration();
  const base = baselineConfiguration();
  edited.FormSection.push(base.FormSection.find((form) => form.unique_id === 'legacy_assessment')!);
  edited.Lookup.push(base.Lookup.find((lookup) => lookup.unique_id === 'lookup-legacy-scores')!);
  edited.Report.push(base.Report.find((report) => report.unique_id === 'report-legacy')!);
  return edited;
}

/**
 * Waits for tests. A promotion that succeeds or fails on the server returns as soon as the simulator says so,
 * so its deadlines are far beyond anything a loaded machine needs: no test passes or fails on wall-clock
 * speed. Only a test about a timeout itself takes SHORT_WAITS, and then the wait must run out (the simulator
 * never answers what is waited for).
 */
export const TEST_TIMING = {
  pollInterval: '20ms',
  transferTimeout: '10m',
  applyTimeout: '10m',
  requestTimeout: '5s',
  maxRetryWait: '50ms',
  retries: 2,
};

/** For the tests of a timeout: what is waited for never happens, so these always run out. */
export const SHORT_WAITS = { ...TEST_TIMING, transferTimeout: '3s', applyTimeout: '3s' };

export interface PromotionSites {
  demo: PrimeroSimulator;
  production: PrimeroSimulator;
  dir: string;
  configFile: string;
  env: NodeJS.ProcessEnv;
  auditLog: string;
  /** Runs `tier4` with these sites' config and secrets. */
  args(...rest: string[]): string[];
  stop(): Promise<void>;
}

export interface SiteSetup {
  demoConfiguration?: ConfigState;
  productionConfiguration?: ConfigState;
  demoVersion?: string;
  productionVersion?: string;
  /** Demo's promote job can reach production (PRIMERO_PROMOTE_CONFIG_PROD_* set). */
  demoReachesProduction?: boolean;
  transfer?: 'promote' | 'database';
  /** For transfer: database, demo's database (sites.demo.database) and a mirror of its configurations. */
  demoDatabase?: {
    url: string;
    passwordEnv: string;
    password: string;
    onStore: (stored: StoredConfig) => Promise<void>;
  };
  productionManage?: boolean;
  /** The service accounts' role permissions and modules (default: what promotion needs, every module). */
  demoUser?: Pick<SimUser, 'permissions' | 'modules'>;
  productionUser?: Pick<SimUser, 'permissions' | 'modules'>;
  maxPer?: number;
  /** Extra or overriding `promotion:` settings. */
  promotion?: Record<string, unknown>;
}

export async function startPromotionSites(setup: SiteSetup = {}): Promise<PromotionSites> {
  const demoPassword = testSecret('demo-api');
  const productionPassword = testSecret('prod-api');
  const production = new PrimeroSimulator({
    name: 'production',
    version: setup.productionVersion ?? '2.15.2',
    users: [
      {
        username: 'tier4-service',
        password: productionPassword,
        manageConfiguration: setup.productionManage ?? true,
        ...setup.productionUser,
      },
    ],
    configuration: setup.productionConfiguration ?? baselineConfiguration(),
    // Two real sites: production's database ids and seeding time are its own.
    firstId: 5001,
    seededAt: '2026-02-11T08:15:00.000Z',
    ...(setup.maxPer ? { maxPer: setup.maxPer } : {}),
  } satisfies SimulatorOptions);
  await production.start();
  const demo = new PrimeroSimulator({
    name: 'demo',
    version: setup.demoVersion ?? '2.15.2',
    users: [
      { username: 'tier4-service', password: demoPassword, manageConfiguration: true, ...setup.demoUser },
    ],
    configuration: setup.demoConfiguration ?? editedConfiguration(),
    firstId: 1,
    seededAt: '2026-01-20T14:40:00.000Z',
    ...(setup.maxPer ? { maxPer: setup.maxPer } : {}),
    ...(setup.demoReachesProduction === false
      ? {}
      : { promoteTarget: { url: production.url, username: 'tier4-service', password: productionPassword } }),
    ...(setup.demoDatabase ? { onStore: setup.demoDatabase.onStore } : {}),
  });
  await demo.start();

  const dir = await mkdtemp(join(tmpdir(), 'tier4-promote-'));
  const configFile = join(dir, 'tier4.yaml');
  const demoDb = setup.demoDatabase;
  // Production's backups block comes from the shipped example, so this stays valid as that schema grows.
  const example = parse(await readFile(join(REPO_ROOT, 'examples', 'tier4.example.yaml'), 'utf8'));
  const primero = (simulator: PrimeroSimulator, version: string, passwordEnv: string) => ({
    url: simulator.url,
    version: `v${version}`,
    auth: { username: 'tier4-service', password: { env: passwordEnv } },
  });
  // Each site its own storage: production's attachments in demo's folder fail config validation.
  const attachments = (site: string) => ({ type: 'local', path: `/srv/primero-${site}/application/storage` });
  const config = {
    version: 1,
    deployment: { name: 'promo-test' },
    promotion: {
      from: 'demo',
      to: 'production',
      transfer: setup.transfer ?? 'promote',
      timing: TEST_TIMING,
      ...setup.promotion,
    },
    sites: {
      demo: {
        role: 'demo',
        platform: 'kubernetes',
        primero: primero(demo, setup.demoVersion ?? '2.15.2', 'DEMO_PRIMERO_PASSWORD'),
        database: {
          url: demoDb ? demoDb.url : 'postgres://primero@127.0.0.1:5432/primero_production',
          password: { env: demoDb ? demoDb.passwordEnv : 'DEMO_DB_PASSWORD' },
        },
        attachments: attachments('demo'),
      },
      production: {
        role: 'production',
        platform: 'kubernetes',
        primero: primero(production, setup.productionVersion ?? '2.15.2', 'PROD_PRIMERO_PASSWORD'),
        database: {
          url: 'postgres://primero@127.0.0.1:5432/primero_production',
          password: { env: 'PROD_DB_PASSWORD' },
        },
        attachments: attachments('production'),
        backups: example.sites.production.backups,
      },
    },
  };
  await writeFile(configFile, stringify(config));
  const env: NodeJS.ProcessEnv = {
    DEMO_PRIMERO_PASSWORD: demoPassword,
    PROD_PRIMERO_PASSWORD: productionPassword,
    ...(demoDb ? { [demoDb.passwordEnv]: demoDb.password } : {}),
  };
  return {
    demo,
    production,
    dir,
    configFile,
    env,
    auditLog: join(dir, '.tier4', 'promotions.jsonl'),
    args: (...rest) => ['-c', configFile, ...rest],
    stop: async () => {
      await demo.stop();
      await production.stop();
    },
  };
}

/**
 * A site's configuration without database ids, comparable across sites: its configuration hashes, less the
 * one database id Field#configuration_hash keeps (collapsed_field_for_subform_section_id; the unique id
 * beside it says the same).
 */
export function comparable(simulator: PrimeroSimulator): unknown {
  const data = simulator.snapshotData();
  for (const form of data.FormSection ?? []) {
    for (const field of (form.fields_attributes as Array<Record<string, unknown>>) ?? [])
      delete field.collapsed_field_for_subform_section_id;
  }
  const sortBy = (items: Array<Record<string, unknown>>) =>
    [...items].sort((a, b) => String(a.unique_id ?? '').localeCompare(String(b.unique_id ?? '')));
  return Object.fromEntries(Object.entries(data).map(([model, items]) => [model, sortBy(items)]));
}

/**
 * For transfer: database: mirrors each configuration demo's simulator stores into a real Primero database's
 * primero_configurations table, where tier4 reads the snapshot.
 */
export function mirrorConfigurations(database: {
  query: (text: string, values: unknown[]) => Promise<unknown>;
}): (stored: StoredConfig) => Promise<void> {
  return async (stored) => {
    await database.query(
      `INSERT INTO primero_configurations (id, name, description, version, primero_version, data, created_on, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, now(), $7)`,
      [
        stored.id,
        stored.name,
        stored.description,
        stored.version,
        stored.primero_version,
        JSON.stringify(stored.data),
        stored.created_by,
      ],
    );
  };
}
