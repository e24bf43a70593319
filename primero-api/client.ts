import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError } from '../core/errors.js';
import { ConnectionFailure, exchange, type HttpReply } from './http.js';

/**
 * A small client for Primero v2's JSON API (/api/v2/*).
 *
 * - TLS is always verified (an extra CA may be trusted in addition to the system store).
 * - HTTP basic auth of a service account (works on every endpoint and skips CSRF), or a bearer token.
 * - 503 answers (Primero locks its API while a configuration is applied and says Retry-After) and
 *   connection errors are retried with backoff, a bounded number of times.
 * - 401 and 403 become clear errors. Credentials never appear in a message.
 */

export type PrimeroAuth = { username: string; password: string } | { token: string };

export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  /** First backoff for connection errors; doubles each time. */
  baseDelayMs: number;
  /** No single wait is longer than this, whatever Retry-After says. */
  maxDelayMs: number;
}

export interface PrimeroClientOptions {
  /** The site's name in tier4.yaml, used in messages. */
  site: string;
  baseUrl: string;
  auth?: PrimeroAuth;
  /** PEM text of an extra CA to trust. */
  ca?: string;
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  /** Told about each retry, for progress lines. */
  onRetry?: (info: { attempt: number; waitMs: number; reason: string }) => void;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 500, maxDelayMs: 60_000 };

/** An HTTP answer Primero gave that we did not expect. */
export class PrimeroApiError extends OperationError {
  constructor(
    message: string,
    readonly status: number,
    hint?: string,
  ) {
    super(message, hint);
  }
}

/** The site could not be reached at all (after retries). */
export class PrimeroUnreachableError extends OperationError {}

export interface ListPage<T> {
  data: T[];
  metadata?: { total?: number; per?: number; page?: number };
}

export class PrimeroClient {
  readonly site: string;
  readonly baseUrl: URL;
  private readonly options: PrimeroClientOptions;
  private readonly retry: RetryPolicy;

  constructor(options: PrimeroClientOptions) {
    this.options = options;
    this.site = options.site;
    const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
    this.baseUrl = new URL(base);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** GET an unauthenticated health endpoint once (no retries): its status, or undefined when unreachable. */
  async health(check?: 'database' | 'solr' | 'server' | 'api'): Promise<{ status?: number; error?: string }> {
    const path = check ? `health/${check}` : 'health';
    try {
      const reply = await exchange({
        method: 'GET',
        url: new URL(path, this.baseUrl),
        headers: { accept: 'application/json' },
        ...(this.options.ca ? { ca: this.options.ca } : {}),
        timeoutMs: this.options.requestTimeoutMs ?? 30_000,
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      });
      return { status: reply.status };
    } catch (error) {
      if (error instanceof ConnectionFailure) return { error: `${error.code}: ${error.message}` };
      throw error;
    }
  }

  async get<T>(path: string, query?: Record<string, string | number>): Promise<T> {
    return this.json<T>('GET', path, undefined, query);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('POST', path, body);
  }

  async patch<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('PATCH', path, body);
  }

  async delete<T>(path: string): Promise<T> {
    return this.json<T>('DELETE', path);
  }

  /**
   * GET that tolerates 404: undefined when the resource does not exist. `busyRetries` bounds the retries
   * of a 503 for this request (a caller watching Primero's lock wants to hear of it at once).
   */
  async find<T>(path: string, options: { busyRetries?: number } = {}): Promise<T | undefined> {
    const reply = await this.send('GET', path, undefined, undefined, options.busyRetries);
    if (reply.status === 404) return undefined;
    return this.parse<T>('GET', path, reply);
  }

  /** Every item of a paginated list endpoint (page/per, metadata.total). */
  async list<T>(path: string, query: Record<string, string | number> = {}, per = 500): Promise<T[]> {
    const items: T[] = [];
    for (let page = 1; page < 10_000; page += 1) {
      const body = await this.get<ListPage<T>>(path, { ...query, page, per });
      const data = Array.isArray(body.data) ? body.data : [];
      items.push(...data);
      const total = body.metadata?.total;
      // Primero caps `per` (1000 for most lists); follow what it actually returned.
      const served = body.metadata?.per ?? per;
      if (total !== undefined ? items.length >= total : data.length < served) break;
      if (data.length === 0) break;
    }
    return items;
  }

  private async json<T>(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | number>,
  ): Promise<T> {
    const reply = await this.send(method, path, body, query);
    return this.parse<T>(method, path, reply);
  }

  private parse<T>(method: string, path: string, reply: HttpReply): T {
    if (reply.status >= 200 && reply.status < 300) {
      if (reply.text.trim() === '') return {} as T;
      try {
        return JSON.parse(reply.text) as T;
      } catch {
        throw new PrimeroApiError(
          `${this.site}: ${method} /api/v2/${path} answered ${reply.status} with something that is not JSON.`,
          reply.status,
          `Check that sites.${this.site}.primero.url points at Primero itself, not a login page or proxy.`,
        );
      }
    }
    throw this.errorFor(method, path, reply);
  }

  private errorFor(method: string, path: string, reply: HttpReply): PrimeroApiError {
    const where = `${this.site}: ${method} /api/v2/${path}`;
    const detail = primeroErrorDetail(reply.text);
    switch (reply.status) {
      case 401:
        return new PrimeroApiError(
          `${where} was refused: the credentials were not accepted (401).`,
          401,
          `Check sites.${this.site}.primero.auth: the service account's user name and password (or token), ` +
            'and that the account is enabled. Primero throttles logins to 6 a minute per user.',
        );
      case 403:
        return new PrimeroApiError(
          `${where} was forbidden (403): the service account's role lacks ${
            path.startsWith('configurations')
              ? 'the permission `primero_configuration: manage`'
              : 'a permission'
          }.`,
          403,
          path.startsWith('configurations')
            ? 'Give the role of the service account "Manage Primero configurations" (primero_configuration: manage) on this site.'
            : 'Give the service account a role that can read forms, lookups, roles, user groups, agencies and reports.',
        );
      case 404:
        return new PrimeroApiError(`${where}: not found (404).`, 404);
      case 422:
        return new PrimeroApiError(
          `${where} was rejected as invalid (422)${detail ? `: ${detail}` : ''}.`,
          422,
          'A configuration needs forms, lookups, agencies, roles, user groups and contact information.',
        );
      case 503:
        return new PrimeroApiError(
          `${where}: Primero stayed unavailable (503) after ${this.retry.retries + 1} attempts${detail ? ` (${detail})` : ''}.`,
          503,
          'Primero answers 503 while a configuration is being applied; wait for it to finish and try again.',
        );
      default:
        return new PrimeroApiError(
          `${where} failed with HTTP ${reply.status}${detail ? `: ${detail}` : ''}.`,
          reply.status,
          "Check the site's application logs.",
        );
    }
  }

  private headers(hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (hasBody) headers['content-type'] = 'application/json';
    const auth = this.options.auth;
    if (auth && 'token' in auth) headers.authorization = `Bearer ${auth.token}`;
    else if (auth)
      headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    return headers;
  }

  /** Sends one API request, retrying 503s and connection failures within the policy. */
  async send(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | number>,
    busyRetries = this.retry.retries,
  ): Promise<HttpReply> {
    const url = new URL(`api/v2/${path}`, this.baseUrl);
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, String(value));
    const text = body === undefined ? undefined : JSON.stringify(body);
    let lastReason = '';
    for (let attempt = 0; ; attempt += 1) {
      let reply: HttpReply | undefined;
      let waitMs: number;
      try {
        reply = await exchange({
          method,
          url,
          headers: this.headers(text !== undefined),
          ...(text === undefined ? {} : { body: text }),
          ...(this.options.ca ? { ca: this.options.ca } : {}),
          timeoutMs: this.options.requestTimeoutMs ?? 30_000,
          ...(this.options.signal ? { signal: this.options.signal } : {}),
        });
        if (reply.status !== 503) return reply;
        const retryAfter = Number(reply.headers['retry-after']);
        waitMs = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : this.backoff(attempt);
        lastReason = 'Primero answered 503 (busy, e.g. applying a configuration)';
      } catch (error) {
        if (!(error instanceof ConnectionFailure)) throw error;
        waitMs = this.backoff(attempt);
        lastReason = `${error.code}`;
        if (isTlsFailure(error.code)) {
          throw new PrimeroUnreachableError(
            `${this.site}: the TLS certificate of ${this.baseUrl.origin} is not trusted (${error.code}).`,
            `If the site uses your own or a national CA, put its PEM bundle in sites.${this.site}.primero.caFile; ` +
              'tier4 never turns verification off.',
          );
        }
        if (attempt >= this.retry.retries) {
          throw new PrimeroUnreachableError(
            `${this.site}: cannot reach Primero at ${this.baseUrl.origin} (${error.code}) after ${attempt + 1} attempts.`,
            `Check that the site is up and that sites.${this.site}.primero.url is right; for TLS errors, ` +
              `trust your CA with sites.${this.site}.primero.caFile.`,
          );
        }
      }
      if (reply && attempt >= Math.min(busyRetries, this.retry.retries)) return reply;
      waitMs = Math.min(waitMs, this.retry.maxDelayMs);
      this.options.onRetry?.({ attempt: attempt + 1, waitMs, reason: lastReason });
      await sleep(waitMs, undefined, this.options.signal ? { signal: this.options.signal } : undefined);
    }
  }

  private backoff(attempt: number): number {
    return Math.min(this.retry.baseDelayMs * 2 ** attempt, this.retry.maxDelayMs);
  }
}

/** Certificate problems do not go away by retrying. */
function isTlsFailure(code: string): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|HOSTNAME/i.test(code);
}

/** The first error message in Primero's `{"errors":[{"message":…,"detail":…}]}` body. */
function primeroErrorDetail(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { errors?: Array<{ message?: unknown; detail?: unknown }> };
    const first = body.errors?.[0];
    if (!first) return undefined;
    const parts = [first.message, first.detail].filter((part) => typeof part === 'string' && part !== '');
    return parts.length > 0 ? parts.join(': ').slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}
