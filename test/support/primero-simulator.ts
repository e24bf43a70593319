import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compareVersions } from '../../primero-api/version.js';

/**
 * A Primero v2 API simulator for tests, written from Primero's source (v2.15.2) and API docs. It is not
 * Primero: it keeps configuration in memory and knows only the endpoints tier4 promote uses. It behaves like
 * one real site, so that two of them behave like demo and production:
 *
 * - Database ids are the site's own (`firstId`): the same form has different ids on two sites, and so do
 *   the subform references of fields (`subform_section_id`, `collapsed_field_for_subform_section_id`).
 * - The read views return what upstream's jbuilder views return (app/views/api/v2/*): forms and fields with
 *   every column (ids, `form_section_id`, subform ids, `created_at`/`updated_at`, nulls dropped), plus
 *   `module_ids` and `collapsed_field_names`; lookups, roles, agencies and user groups with their `id`;
 *   reports without `unique_id` and only of the caller's modules (Api::V2::ReportsController#index);
 *   contact information with every column but `id` (timestamps included) and `system_version`.
 * - A snapshot holds each model's `configuration_hash`, and apply does what each model's
 *   `create_or_update!`/`update_properties` do (app/models/*.rb; see `configurationHash` and `applied`).
 * - HTTP basic auth (or a bearer token); 401 without valid credentials; every /api/v2/configurations
 *   endpoint needs the role permission primero_configuration: manage (403 otherwise). POST /api/v2/tokens
 *   answers the caller's id (Api::V2::TokensController#respond_with), GET /api/v2/users/:id its own record
 *   (read_self), with the role's permissions when `extended=true` (app/views/api/v2/users/_user.json.jbuilder).
 * - POST /configurations snapshots the current configuration, or stores the given `data` as is (id, name,
 *   description, version and a sent primero_version kept; otherwise this server's release, as
 *   `populate_primero_version`'s `||=` does). GET never returns `data`. A configuration without forms,
 *   lookups, agencies, roles, user groups or contact information is refused with 422.
 * - PATCH apply_now queues the apply: a worker locks the system (every /api/v2 request answers 503 with
 *   Retry-After: 60, /health/api answers 503), applies in one transaction, unlocks. Errors are only logged;
 *   the one success signal is applied_on. If this server is older than the configuration's primero_version
 *   (Gem::Version order) the apply silently does nothing (can_apply false).
 * - PATCH promote queues a job that posts the configuration to the configured production (only when it does
 *   not exist there yet, 3 tries on connection errors); nothing is recorded on this side.
 * - List endpoints paginate with page/per and metadata.total.
 */

export type Item = Record<string, unknown>;

export const MODELS = [
  'FormSection',
  'Lookup',
  'Agency',
  'Role',
  'UserGroup',
  'Report',
  'ContactInformation',
] as const;
export type Model = (typeof MODELS)[number];
export type ConfigState = Record<Model, Item[]>;

export interface SimUser {
  username: string;
  password: string;
  token?: string;
  /** primero_configuration: manage */
  manageConfiguration: boolean;
  /** The role's other permissions (Primero's resource → actions); default: what promotion reads, no more. */
  permissions?: Record<string, string[]>;
  /** The user's modules; default: every module the site's forms and roles name. */
  modules?: string[];
}

export interface StoredConfig {
  id: string;
  name: string | null;
  description: string | null;
  version: string;
  primero_version: string;
  data: Record<string, Item[]>;
  created_on: string;
  created_by: string | null;
  applied_on: string | null;
  applied_by: string | null;
}

export interface SimulatorOptions {
  name: string;
  /** Primero::Application::VERSION, e.g. 2.15.2 */
  version: string;
  users: SimUser[];
  /** The site's configuration, loaded as an apply of these configuration hashes would load it. */
  configuration: ConfigState;
  /** This site's first database id: two sites never share ids. */
  firstId?: number;
  /** When this site was seeded: the timestamps of rows whose configuration hash carries none. */
  seededAt?: string;
  /** Primero's cap on `per` (1000); lower it to exercise pagination. */
  maxPer?: number;
  /** How long the worker holds the lock while applying. */
  applyDurationMs?: number;
  /** PRIMERO_PROMOTE_CONFIG_PROD_*: where `promote` sends configurations. */
  promoteTarget?: { url: string; username: string; password: string };
  /** Called when a configuration is stored (to mirror it into a real database for transfer tests). */
  onStore?: (stored: StoredConfig) => Promise<void> | void;
}

/**
 * ok: applies; error: locks, fails, rolls back, unlocks (only once a client has seen the lock, so a test
 * never depends on polling faster than the worker); stuck: never unlocks; never: the worker is down.
 */
export type ApplyBehaviour = 'ok' | 'error' | 'stuck' | 'never';

/**
 * What a role needs besides primero_configuration: manage for promotion: reading roles, user groups and
 * agencies. Forms, lookups and reports are listed for everyone (`can_index` in app/models/ability.rb) and
 * contact information needs no permission.
 */
export const PROMOTION_PERMISSIONS: Record<string, string[]> = {
  role: ['read'],
  user_group: ['read'],
  agency: ['read'],
};

/** ActiveSupport's pluralize, for Primero's permission resources. */
const PLURALS: Record<string, string> = { family: 'families', potential_match: 'potential_matches' };

const clone = <T>(value: T): T => structuredClone(value);

/** can_apply?: Gem::Version.new(VERSION) >= Gem::Version.new(primero_version). */
function versionAtLeast(have: string, need: string): boolean {
  return (compareVersions(have, need) ?? 0) >= 0;
}

function without(item: Item, keys: string[]): Item {
  const out: Item = {};
  for (const [key, value] of Object.entries(item)) if (!keys.includes(key)) out[key] = clone(value);
  return out;
}

/** `as_json.compact`: nulls are not rendered. */
function compact(item: Item): Item {
  return Object.fromEntries(
    Object.entries(item).filter(([, value]) => value !== null && value !== undefined),
  );
}

/** Timestamps of seeded forms and fields that name none. */
export const FORMS_STAMPED_AT = '2026-01-05T10:00:00.000Z';

/** Field attributes an update never writes (Field.attr_readonly). */
const FIELD_READONLY = ['name', 'type', 'multi_select'];

export class PrimeroSimulator {
  readonly name: string;
  version: string;
  users: SimUser[];
  /** The site's rows: forms carry their fields; every row its database id. */
  state: ConfigState;
  configurations = new Map<string, StoredConfig>();
  locked = false;
  /** /health answers 503 (as when the database is unreachable). */
  databaseDown = false;
  applyBehaviour: ApplyBehaviour = 'ok';
  applyDurationMs: number;
  promoteTarget: SimulatorOptions['promoteTarget'];
  /** Every request: method and path (no credentials). */
  readonly requests: string[] = [];
  /** What Primero would write to its log (apply and sync errors). */
  readonly log: string[] = [];
  private readonly maxPer: number;
  private readonly onStore: SimulatorOptions['onStore'];
  private readonly seededAt: string;
  private server: Server | undefined;
  private nextId: number;
  private lockSeen = false;
  private readonly pending = new Set<Promise<unknown>>();
  url = '';

  constructor(options: SimulatorOptions) {
    this.name = options.name;
    this.version = options.version;
    this.users = options.users;
    this.maxPer = options.maxPer ?? 1000;
    this.applyDurationMs = options.applyDurationMs ?? 60;
    this.promoteTarget = options.promoteTarget;
    this.onStore = options.onStore;
    this.nextId = options.firstId ?? 1;
    this.seededAt = options.seededAt ?? '2026-01-05T10:00:00.000Z';
    const empty = Object.fromEntries(MODELS.map((model) => [model, []])) as unknown as ConfigState;
    // Forms and fields without timestamps of their own get one shared time, as if an earlier promotion had
    // carried them here; contact information carries none, so it has this site's own.
    this.state = this.applied(empty, clone(options.configuration), FORMS_STAMPED_AT);
    for (const contact of this.state.ContactInformation) {
      contact.created_at = this.seededAt;
      contact.updated_at = this.seededAt;
    }
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.log.push(`500: ${(error as Error).message}`);
        if (!res.headersSent)
          this.send(res, 500, { errors: [{ code: 500, message: 'Internal Server Error' }] });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.lockSeen = true;
    await Promise.allSettled([...this.pending]);
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** Waits for queued jobs (apply, promote) to finish. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Requests that could change configuration (signing in to learn who the caller is changes none). */
  writes(): string[] {
    return this.requests.filter((line) => !line.startsWith('GET ') && line !== 'POST /api/v2/tokens');
  }

  /** The current configuration as a configuration state's `data`: each model's configuration_hash. */
  snapshotData(): Record<string, Item[]> {
    const data: Record<string, Item[]> = {};
    for (const model of MODELS)
      data[model] = this.state[model].map((row) => this.configurationHash(model, row));
    return data;
  }

  // ---- the models ---------------------------------------------------------------------------------

  private formUniqueId(id: unknown, state = this.state): string | null {
    if (id === null || id === undefined) return null;
    const form = state.FormSection.find((candidate) => candidate.id === id);
    return (form?.unique_id as string | undefined) ?? null;
  }

  private formId(uniqueId: unknown, state: ConfigState): number | null {
    const form = state.FormSection.find((candidate) => candidate.unique_id === uniqueId);
    return (form?.id as number | undefined) ?? null;
  }

  /**
   * Each model's configuration_hash (app/models/…):
   * - FormSection: every attribute but `id` (timestamps kept), `collapsed_field_names` for nested forms,
   *   `fields_attributes`, `module_ids`.
   * - Field: every attribute but `id`, `form_section_id`, `subform_section_id`; adds `subform_unique_id` and
   *   `collapsed_field_for_subform_unique_id`. It keeps `collapsed_field_for_subform_section_id` (the except
   *   list names `collapsed_field_for_subform`, which is not a column), a database id of the sending site.
   * - Role, Agency: every attribute but `id`.
   * - Lookup, Report, UserGroup, ContactInformation (ConfigurationRecord): all but id, created_at, updated_at.
   */
  private configurationHash(model: Model, row: Item): Item {
    if (model === 'FormSection') {
      const { fields, ...form } = row as Item & { fields?: Item[] };
      const hash = without(form, ['id']);
      if (form.is_nested) {
        hash.collapsed_field_names = (fields ?? [])
          .filter((field) => field.collapsed_field_for_subform_section_id === row.id)
          .map((field) => field.name);
      }
      hash.fields_attributes = (fields ?? []).map((field) => ({
        ...without(field, ['id', 'form_section_id', 'subform_section_id']),
        subform_unique_id: this.formUniqueId(field.subform_section_id),
        collapsed_field_for_subform_unique_id: this.formUniqueId(
          field.collapsed_field_for_subform_section_id,
        ),
      }));
      return hash;
    }
    if (model === 'Role' || model === 'Agency') return without(row, ['id']);
    return without(row, ['id', 'created_at', 'updated_at']);
  }

  private now(): string {
    return new Date().toISOString();
  }

  /**
   * PrimeroConfiguration#apply! in one transaction: works on a copy and returns it; throws (nothing changed)
   * on bad data. Each model's create_or_update!: find by its unique id attribute (ContactInformation's is
   * `name`), update_properties, save.
   */
  private applied(current: ConfigState, data: Record<string, Item[]>, now = this.now()): ConfigState {
    const next = clone(current);
    for (const model of MODELS) {
      const entries = data[model];
      if (!entries) continue;
      // FormSection.sort_configuration_hash: nested forms (subforms) first, so parents can find them.
      const ordered =
        model === 'FormSection'
          ? [...entries].sort((a, b) => (a.is_nested ? 0 : 1) - (b.is_nested ? 0 : 1))
          : entries;
      for (const entry of ordered) {
        if (model === 'FormSection') this.applyForm(next, clone(entry), now);
        else this.applyRecord(next, model, clone(entry), now);
      }
    }
    // clear_remainder!: forms, lookups and reports the configuration lacks are destroyed.
    for (const model of ['FormSection', 'Lookup', 'Report'] as const) {
      const entries = data[model];
      if (!entries)
        throw new Error(`undefined method 'map' for nil (${model} missing from the configuration)`);
      const keep = new Set(entries.map((entry) => entry.unique_id));
      const gone = next[model].filter((item) => !keep.has(item.unique_id)).map((item) => item.id);
      next[model] = next[model].filter((item) => keep.has(item.unique_id));
      if (model === 'FormSection') {
        // has_one :subform_field, dependent: :nullify
        for (const form of next.FormSection)
          for (const field of (form.fields as Item[]) ?? [])
            if (gone.includes(field.subform_section_id)) field.subform_section_id = null;
      }
    }
    return next;
  }

  /** ConfigurationRecord.create_or_update! + update_properties (assign the hash's attributes). */
  private applyRecord(next: ConfigState, model: Model, entry: Item, now: string): void {
    const key = model === 'ContactInformation' ? 'name' : 'unique_id';
    const existing = next[model].find((row) => row[key] === entry[key]);
    const attributes = without(entry, ['id']);
    if (existing) {
      const changed = Object.entries(attributes).some(
        ([name, value]) => JSON.stringify(existing[name]) !== JSON.stringify(value),
      );
      Object.assign(existing, attributes);
      if (model === 'ContactInformation' && changed) existing.updated_at = now;
      return;
    }
    next[model].push({
      id: this.nextId++,
      ...attributes,
      ...(model === 'ContactInformation' ? { created_at: now, updated_at: now } : {}),
    });
  }

  /**
   * FormSection.create_or_update!: find by unique_id; update_properties assigns the fields (existing ones
   * by name, readonly attributes kept; subform references looked up by unique id, then the hash's own
   * attributes assigned, `collapsed_field_for_subform_section_id` included), then the form's attributes
   * (its timestamps included, so they carry). After save a nested form points its collapsed fields at itself
   * (calculate_subform_collapsed_fields).
   */
  private applyForm(next: ConfigState, entry: Item, now: string): void {
    let form = next.FormSection.find((row) => row.unique_id === entry.unique_id);
    if (!form) {
      form = { id: this.nextId++, created_at: now, updated_at: now, fields: [] };
      next.FormSection.push(form);
    }
    const oldFields = (form.fields as Item[]) ?? [];
    const given = (entry.fields_attributes ?? entry.fields) as Item[] | undefined;
    if (given) {
      form.fields = given.map((params, index) => {
        const old = oldFields.find((field) => field.name === params.name);
        const field: Item = old ? clone(old) : { id: this.nextId++, created_at: now, updated_at: now };
        if (params.subform_unique_id) field.subform_section_id = this.formId(params.subform_unique_id, next);
        if (params.collapsed_field_for_subform_unique_id)
          field.collapsed_field_for_subform_section_id = this.formId(
            params.collapsed_field_for_subform_unique_id,
            next,
          );
        const except = [
          'id',
          'form_section_id',
          'subform_unique_id',
          'collapsed_field_for_subform_unique_id',
        ];
        Object.assign(field, without(params, old ? [...except, ...FIELD_READONLY] : except));
        if (params.order === undefined || params.order === null) field.order = index;
        field.form_section_id = form.id;
        return field;
      });
    }
    const collapsedNames = entry.collapsed_field_names as string[] | undefined;
    Object.assign(form, without(entry, ['id', 'fields', 'fields_attributes', 'collapsed_field_names']));
    if (form.is_nested) {
      const fields = form.fields as Item[];
      const names =
        collapsedNames && collapsedNames.length > 0
          ? collapsedNames
          : fields
              .filter((field) => field.collapsed_field_for_subform_section_id === form.id)
              .map((f) => f.name);
      fields.forEach((field, index) => {
        const linked = names.length > 0 ? names.includes(field.name as string) : index === 0;
        field.collapsed_field_for_subform_section_id = linked ? form.id : null;
      });
    }
  }

  // ---- the read views ------------------------------------------------------------------------------

  /** app/views/api/v2/form_sections/_form_section.json.jbuilder */
  private formView(form: Item): Item {
    const { fields, ...attributes } = form as Item & { fields?: Item[] };
    const collapsed = this.state.FormSection.flatMap((candidate) => (candidate.fields as Item[]) ?? [])
      .filter((field) => field.collapsed_field_for_subform_section_id === form.id)
      .sort((a, b) => Number(a.order ?? 0) - Number(b.order ?? 0))
      .map((field) => field.name);
    return {
      ...compact(clone(attributes)),
      fields: (fields ?? []).map((field) => compact(clone(field))),
      module_ids: clone(form.module_ids ?? []),
      collapsed_field_names: collapsed,
    };
  }

  private modulesOf(user: SimUser): string[] {
    if (user.modules) return user.modules;
    const all = new Set<string>();
    for (const form of this.state.FormSection)
      for (const id of (form.module_ids as string[] | undefined) ?? []) all.add(id);
    for (const role of this.state.Role)
      for (const id of (role.module_unique_ids as string[] | undefined) ?? []) all.add(id);
    return [...all];
  }

  private permissionsOf(user: SimUser): Record<string, string[]> {
    return {
      ...(user.permissions ?? PROMOTION_PERMISSIONS),
      ...(user.manageConfiguration ? { primero_configuration: ['manage'] } : {}),
    };
  }

  // ---- HTTP ----------------------------------------------------------------------------------------

  private track<T>(promise: Promise<T>): void {
    const tracked = promise.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private send(
    res: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { ...(text ? { 'content-type': 'application/json' } : {}), ...headers });
    res.end(text);
  }

  private error(
    res: ServerResponse,
    status: number,
    resource: string,
    message: string,
    detail?: string,
  ): void {
    this.send(res, status, { errors: [{ code: status, resource, message, ...(detail ? { detail } : {}) }] });
  }

  private authenticate(req: IncomingMessage): SimUser | undefined {
    const header = req.headers.authorization ?? '';
    const [scheme, value = ''] = header.split(' ');
    if (scheme === 'Basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const username = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      return this.users.find((user) => user.username === username && user.password === password);
    }
    if (scheme === 'Bearer')
      return this.users.find((user) => user.token !== undefined && user.token === value);
    return undefined;
  }

  private async body(req: IncomingMessage): Promise<Item> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? (JSON.parse(text) as Item) : {};
  }

  private meta(config: StoredConfig): Item {
    const { data: _data, ...meta } = config;
    return { ...meta, can_apply: versionAtLeast(this.version, config.primero_version) };
  }

  private page(res: ServerResponse, url: URL, items: Item[]): void {
    const per = Math.min(Number(url.searchParams.get('per') ?? 20) || 20, this.maxPer);
    const page = Math.max(Number(url.searchParams.get('page') ?? 1) || 1, 1);
    this.send(res, 200, {
      data: items.slice((page - 1) * per, page * per),
      metadata: { total: items.length, per, page },
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const method = req.method ?? 'GET';
    this.requests.push(`${method} ${url.pathname}`);

    if (url.pathname === '/health' || url.pathname.startsWith('/health/')) {
      const check = url.pathname.slice('/health/'.length);
      if (url.pathname === '/health' || check === 'database' || check === 'solr')
        return this.send(res, this.databaseDown ? 503 : 204);
      if (check === 'server') return this.send(res, 204);
      if (check === 'api') {
        if (this.locked) this.lockSeen = true;
        return this.send(res, this.locked ? 503 : 204);
      }
      return this.error(res, 404, url.pathname, 'Not Found');
    }
    if (!url.pathname.startsWith('/api/v2/')) return this.error(res, 404, url.pathname, 'Not Found');
    // Api::V2::TokensController is Devise's sessions controller, not ApplicationApiController: no lock check.
    // Devise's http_authenticatable (config/initializers/devise.rb) signs in with basic auth alone.
    if (method === 'POST' && url.pathname === '/api/v2/tokens') {
      const caller = this.authenticate(req);
      if (!caller) return this.error(res, 401, url.pathname, 'Unauthorized');
      return this.send(res, 200, {
        id: this.userId(caller),
        user_name: caller.username,
        group_permission: 'self',
      });
    }
    // Primero checks its configuration lock before anything else (ApplicationApiController).
    if (this.locked) {
      this.lockSeen = true;
      res.setHeader('Retry-After', '60');
      return this.error(res, 503, url.pathname, 'Service Unavailable', 'Retry-After: 60');
    }
    const user = this.authenticate(req);
    if (!user) return this.error(res, 401, url.pathname, 'Unauthorized');
    const path = url.pathname.slice('/api/v2/'.length).replace(/\/$/, '');

    if (method === 'GET') {
      const ownRecord = /^users\/(\d+)$/.exec(path);
      if (ownRecord) return this.userView(res, url, user, Number(ownRecord[1]));
      switch (path) {
        case 'contact_information': {
          // app/views/api/v2/contact_information/show.json.jbuilder: ContactInformation.current (the first
          // row), every attribute but id, plus system_version; nulls dropped.
          const [current] = [...this.state.ContactInformation].sort((a, b) => Number(a.id) - Number(b.id));
          const { id: _id, ...data } = current ?? {};
          return this.send(res, 200, { data: compact({ ...clone(data), system_version: this.version }) });
        }
        case 'forms':
          return this.send(res, 200, { data: this.state.FormSection.map((form) => this.formView(form)) });
        case 'lookups':
          return this.page(res, url, clone(this.state.Lookup));
        case 'agencies':
          return this.page(res, url, clone(this.state.Agency));
        case 'roles':
          return this.page(res, url, clone(this.state.Role));
        case 'user_groups':
          return this.page(res, url, clone(this.state.UserGroup));
        case 'reports': {
          // Api::V2::ReportsController#index: only reports of the caller's modules; the view has no unique_id.
          const modules = this.modulesOf(user);
          return this.page(
            res,
            url,
            this.state.Report.filter((report) => modules.includes(String(report.module_id))).map(
              ({ unique_id: _u, ...report }) => clone(report),
            ),
          );
        }
      }
    }
    if (path === 'configurations' || path.startsWith('configurations/')) {
      if (!user.manageConfiguration) return this.error(res, 403, url.pathname, 'Forbidden');
      return this.configurationsEndpoint(req, res, url, method, path.slice('configurations/'.length), user);
    }
    return this.error(res, 404, url.pathname, 'Not Found');
  }

  private userId(user: SimUser): number {
    return 9000 + this.users.indexOf(user);
  }

  /** GET /api/v2/users/:id: a user may read only itself here (read_self), its permissions with extended=true. */
  private userView(res: ServerResponse, url: URL, user: SimUser, id: number): void {
    if (id !== this.userId(user)) {
      this.error(res, 403, url.pathname, 'Forbidden');
      return;
    }
    const data: Item = {
      id,
      user_name: user.username,
      role_unique_id: `role-${user.username}`,
      module_unique_ids: this.modulesOf(user),
    };
    if (url.searchParams.get('extended') === 'true') {
      // `p.resource.pluralize` in _user.json.jbuilder.
      const plural = (resource: string) => PLURALS[resource] ?? `${resource}s`;
      data.permissions = {
        list: Object.entries(this.permissionsOf(user)).map(([resource, actions]) => ({
          resource: plural(resource),
          actions,
        })),
      };
    }
    this.send(res, 200, { data });
  }

  private async configurationsEndpoint(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
    idPart: string,
    user: SimUser,
  ): Promise<void> {
    const id = url.pathname.endsWith('/configurations') ? '' : decodeURIComponent(idPart);
    if (!id && method === 'GET') {
      const all = [...this.configurations.values()].sort((a, b) => (a.created_on < b.created_on ? -1 : 1));
      return this.page(
        res,
        url,
        all.map((config) => this.meta(config)),
      );
    }
    if (!id && method === 'POST') {
      const params = ((await this.body(req)).data ?? {}) as Item;
      const given = params.data as Record<string, Item[]> | undefined;
      const data = given ?? this.snapshotData();
      for (const model of MODELS) {
        if (model === 'Report') continue;
        if (!Array.isArray(data[model]) || data[model]!.length === 0) {
          return this.error(res, 422, url.pathname, 'errors.models.configuration.data', 'data');
        }
      }
      const configId = typeof params.id === 'string' && given ? params.id : randomUUID();
      const version =
        typeof params.version === 'string'
          ? params.version
          : `${new Date().toISOString().replace(/[-:]/g, '').replace('T', '.').slice(0, 15)}.${randomBytes(4).toString('hex').slice(0, 7)}`;
      if (
        this.configurations.has(configId) ||
        [...this.configurations.values()].some((c) => c.version === version)
      ) {
        return this.error(
          res,
          422,
          url.pathname,
          'errors.models.configuration.version.uniqueness',
          'version',
        );
      }
      const stored: StoredConfig = {
        id: configId,
        name: typeof params.name === 'string' ? params.name : null,
        description: typeof params.description === 'string' ? params.description : null,
        version,
        // before_create :populate_primero_version: `||=`, a sent primero_version is kept.
        primero_version:
          typeof params.primero_version === 'string' && params.primero_version !== ''
            ? params.primero_version
            : this.version,
        data: clone(data),
        created_on: new Date().toISOString(),
        created_by: user.username,
        applied_on: null,
        applied_by: null,
      };
      this.configurations.set(configId, stored);
      await this.onStore?.(clone(stored));
      return this.send(res, 200, { data: this.meta(stored) });
    }
    const config = this.configurations.get(id);
    if (!config) return this.error(res, 404, url.pathname, 'Not Found');
    if (method === 'GET') return this.send(res, 200, { data: this.meta(config) });
    if (method === 'DELETE') {
      this.configurations.delete(id);
      return this.send(res, 200, { data: { id } });
    }
    if (method === 'PATCH') {
      const params = ((await this.body(req)).data ?? {}) as Item;
      if (params.apply_now) this.queueApply(config, user);
      if (params.promote) this.track(this.promoteJob(config));
      return this.send(res, 200, { data: this.meta(config) });
    }
    return this.error(res, 404, url.pathname, 'Not Found');
  }

  private queueApply(config: StoredConfig, user: SimUser): void {
    if (this.applyBehaviour === 'never') return;
    this.track(
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        this.lockSeen = false;
        this.locked = true;
        if (this.applyBehaviour === 'stuck') return;
        try {
          await new Promise((resolve) => setTimeout(resolve, this.applyDurationMs));
          if (!versionAtLeast(this.version, config.primero_version)) return; // can_apply? false: silently nothing
          if (this.applyBehaviour === 'error') {
            // A real apply that fails still holds the lock for a while; wait until a client has seen it.
            while (!this.lockSeen) await new Promise((resolve) => setTimeout(resolve, 5));
            throw new Error('ActiveRecord::RecordInvalid (simulated)');
          }
          this.state = this.applied(this.state, config.data);
          config.applied_on = new Date().toISOString();
          config.applied_by = user.username;
        } catch (error) {
          this.log.push(
            `Could not apply configuration ${config.name}:${config.version}. Rolling back. ${(error as Error).message}`,
          );
        } finally {
          this.locked = false;
        }
      })(),
    );
  }

  private async promoteJob(config: StoredConfig): Promise<void> {
    const target = this.promoteTarget;
    if (!target) {
      this.log.push('Error syncing Primero Configuration: no PRIMERO_PROMOTE_CONFIG_PROD_HOST');
      return;
    }
    const auth = `Basic ${Buffer.from(`${target.username}:${target.password}`).toString('base64')}`;
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      try {
        const existing = await fetch(`${target.url}/api/v2/configurations/${config.id}`, {
          headers: { authorization: auth },
        });
        if (existing.status !== 404) {
          this.log.push(
            `sync: configuration ${config.id} exists on production (${existing.status}); not overwritten`,
          );
          return;
        }
        const { id, name, description, version, primero_version, data } = config;
        const posted = await fetch(`${target.url}/api/v2/configurations`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ data: { id, name, description, version, primero_version, data } }),
        });
        if (posted.status >= 400)
          this.log.push(`Error syncing Primero Configuration with id ${config.id}. Status: ${posted.status}`);
        return;
      } catch (error) {
        this.log.push(
          `Error syncing Primero Configuration with id ${config.id}. Error: ${(error as Error).message}`,
        );
      }
    }
  }
}
