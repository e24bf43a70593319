import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Primero v2 API simulator for tests, written from Primero's API docs and the behaviour of its source
 * (PrimeroConfiguration, its controller, ApplyConfigurationJob, the sync connector). It is not Primero:
 * it keeps configuration in memory and knows only the endpoints tier4 promote uses.
 *
 * Faithful where it matters to promotion:
 * - HTTP basic auth (or a bearer token); 401 without valid credentials; every /api/v2/configurations
 *   endpoint needs the role permission primero_configuration: manage (403 otherwise).
 * - POST /configurations snapshots the current configuration, or stores the given `data` as is (id,
 *   name, description, version kept; primero_version always set to this server's release, as Primero's
 *   before_create does). GET never returns `data`. A configuration without forms, lookups, agencies,
 *   roles, user groups or contact information is refused with 422.
 * - PATCH apply_now queues the apply: a worker locks the system (every /api/v2 request answers 503 with
 *   Retry-After: 60, /health/api answers 503), applies in one transaction, unlocks. Errors are only
 *   logged; the one success signal is applied_on. If this server is older than the configuration's
 *   primero_version the apply silently does nothing (can_apply false).
 * - Apply replaces forms, lookups and reports (the rest are deleted) and upserts agencies, roles, user
 *   groups and contact information by unique_id.
 * - PATCH promote queues a job that posts the configuration to the configured production (only when it
 *   does not exist there yet, 3 tries on connection errors); nothing is recorded on this side.
 * - List endpoints paginate with page/per and metadata.total; the reports API does not show unique_id.
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
  configuration: ConfigState;
  /** Primero's cap on `per` (1000); lower it to exercise pagination. */
  maxPer?: number;
  /** How long the worker holds the lock while applying. */
  applyDurationMs?: number;
  /** PRIMERO_PROMOTE_CONFIG_PROD_*: where `promote` sends configurations. */
  promoteTarget?: { url: string; username: string; password: string };
  /** Called when a configuration is stored (to mirror it into a real database for transfer tests). */
  onStore?: (stored: StoredConfig) => Promise<void> | void;
}

/** ok: applies; error: locks, fails, rolls back, unlocks; stuck: never unlocks; never: the worker is down. */
export type ApplyBehaviour = 'ok' | 'error' | 'stuck' | 'never';

const clone = <T>(value: T): T => structuredClone(value);

function versionAtLeast(have: string, need: string): boolean {
  const parse = (text: string) =>
    text
      .replace(/^v/, '')
      .split('.')
      .map((part) => Number.parseInt(part, 10) || 0);
  const a = parse(have);
  const b = parse(need);
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff > 0;
  }
  return true;
}

export class PrimeroSimulator {
  readonly name: string;
  version: string;
  users: SimUser[];
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
  private server: Server | undefined;
  private nextId = 1;
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
    this.state = this.withIds(clone(options.configuration));
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

  /** Requests that could change something. */
  writes(): string[] {
    return this.requests.filter((line) => !line.startsWith('GET '));
  }

  /** The current configuration as a configuration state's `data` (what a snapshot stores). */
  snapshotData(): Record<string, Item[]> {
    const data: Record<string, Item[]> = {};
    for (const model of MODELS) {
      data[model] = this.state[model].map((item) => {
        const { id: _id, ...rest } = item;
        if (model !== 'FormSection') return clone(rest);
        const { fields, ...form } = rest as Item & { fields?: Item[] };
        return {
          ...clone(form),
          fields_attributes: (fields ?? []).map(({ id: _f, form_section_id: _s, ...field }) => clone(field)),
        };
      });
    }
    return data;
  }

  // ---- internals --------------------------------------------------------------------------------

  private withIds(state: ConfigState): ConfigState {
    for (const model of MODELS) {
      for (const item of state[model]) {
        item.id ??= this.nextId++;
        if (model === 'FormSection') {
          for (const field of (item.fields as Item[] | undefined) ?? []) {
            field.id ??= this.nextId++;
            field.form_section_id = item.id;
          }
        }
      }
    }
    return state;
  }

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
      if (check === 'api') return this.send(res, this.locked ? 503 : 204);
      return this.error(res, 404, url.pathname, 'Not Found');
    }
    if (!url.pathname.startsWith('/api/v2/')) return this.error(res, 404, url.pathname, 'Not Found');
    // Primero checks its configuration lock before anything else.
    if (this.locked) {
      res.setHeader('Retry-After', '60');
      return this.error(res, 503, url.pathname, 'Service Unavailable', 'Retry-After: 60');
    }
    const user = this.authenticate(req);
    if (!user) return this.error(res, 401, url.pathname, 'Unauthorized');
    const path = url.pathname.slice('/api/v2/'.length).replace(/\/$/, '');

    if (method === 'GET') {
      switch (path) {
        case 'contact_information': {
          const [contact] = this.state.ContactInformation;
          const { id: _id, unique_id: _u, ...data } = contact ?? {};
          return this.send(res, 200, { data: { ...data, system_version: this.version } });
        }
        case 'forms':
          return this.send(res, 200, { data: clone(this.state.FormSection) });
        case 'lookups':
          return this.page(res, url, clone(this.state.Lookup));
        case 'agencies':
          return this.page(res, url, clone(this.state.Agency));
        case 'roles':
          return this.page(res, url, clone(this.state.Role));
        case 'user_groups':
          return this.page(res, url, clone(this.state.UserGroup));
        case 'reports':
          // Primero's report view does not include unique_id.
          return this.page(
            res,
            url,
            this.state.Report.map(({ unique_id: _u, ...report }) => clone(report)),
          );
      }
    }
    if (path === 'configurations' || path.startsWith('configurations/')) {
      if (!user.manageConfiguration) return this.error(res, 403, url.pathname, 'Forbidden');
      return this.configurationsEndpoint(req, res, url, method, path.slice('configurations/'.length), user);
    }
    return this.error(res, 404, url.pathname, 'Not Found');
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
        // before_create :populate_primero_version: always this server's release.
        primero_version: this.version,
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
        this.locked = true;
        if (this.applyBehaviour === 'stuck') return;
        try {
          await new Promise((resolve) => setTimeout(resolve, this.applyDurationMs));
          if (!versionAtLeast(this.version, config.primero_version)) return; // can_apply? false: silently nothing
          if (this.applyBehaviour === 'error') throw new Error('ActiveRecord::RecordInvalid (simulated)');
          this.state = this.applied(config.data);
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

  /** One transaction: works on a copy and returns it; throws (nothing changed) on bad data. */
  private applied(data: Record<string, Item[]>): ConfigState {
    const next = clone(this.state);
    for (const model of MODELS) {
      const entries = data[model];
      if (!entries) continue;
      for (const entry of entries) {
        const item = clone(entry);
        if (model === 'FormSection') {
          item.fields = item.fields_attributes ?? [];
          delete item.fields_attributes;
        }
        if (model === 'ContactInformation') {
          next.ContactInformation = [{ ...(next.ContactInformation[0] ?? {}), ...item }];
          continue;
        }
        const existing = next[model].find((candidate) => candidate.unique_id === item.unique_id);
        if (existing) {
          if (model === 'FormSection') {
            const oldFields = (existing.fields as Item[]) ?? [];
            item.fields = (item.fields as Item[]).map((field) => ({
              ...field,
              id: oldFields.find((old) => old.name === field.name)?.id,
            }));
          }
          Object.assign(existing, item);
        } else {
          next[model].push(item);
        }
      }
    }
    for (const model of ['FormSection', 'Lookup', 'Report'] as const) {
      const entries = data[model];
      if (!entries)
        throw new Error(`undefined method 'map' for nil (${model} missing from the configuration)`);
      const keep = new Set(entries.map((entry) => entry.unique_id));
      next[model] = next[model].filter((item) => keep.has(item.unique_id));
    }
    return this.withIds(next);
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
