import { setTimeout as sleep } from 'node:timers/promises';
import { OperationError } from '../core/errors.js';
import {
  type ConfigurationMeta,
  getConfiguration,
  PrimeroApiError,
  type PrimeroClient,
} from '../primero-api/index.js';

/**
 * Primero applies a configuration in its worker and reports nothing but `applied_on`: the API is locked
 * (503, /health/api 503) while it runs, and an error only reaches the server log. So we watch both.
 */

export interface WaitOptions {
  pollIntervalMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  progress?: (message: string) => void;
}

export type ApplyOutcome =
  | { status: 'applied'; configuration: ConfigurationMeta; sawLock: boolean }
  /** The lock came and went, and applied_on is still empty: the apply failed and was rolled back by Primero. */
  | { status: 'failed'; sawLock: true }
  | { status: 'timeout'; sawLock: boolean; stillLocked: boolean };

export async function waitForApply(
  client: PrimeroClient,
  id: string,
  options: WaitOptions,
): Promise<ApplyOutcome> {
  const deadline = Date.now() + options.timeoutMs;
  let sawLock = false;
  let locked = false;
  for (;;) {
    const api = await client.health('api');
    locked = api.status === 503;
    if (locked) {
      if (!sawLock) options.progress?.(`${client.site}: applying (API locked)`);
      sawLock = true;
    } else if (api.status !== undefined && api.status < 300) {
      const configuration = await configurationUnlessLocked(client, id);
      if (configuration === 'locked') {
        // The worker took the lock between the two requests.
        if (!sawLock) options.progress?.(`${client.site}: applying (API locked)`);
        sawLock = true;
        locked = true;
      } else if (!configuration) {
        throw new OperationError(
          `${client.site}: configuration ${id} disappeared while it was being applied.`,
        );
      } else {
        if (configuration.applied_on) return { status: 'applied', configuration, sawLock };
        if (sawLock) return { status: 'failed', sawLock: true };
      }
    }
    if (Date.now() >= deadline) return { status: 'timeout', sawLock, stillLocked: locked };
    await sleep(Math.min(options.pollIntervalMs, Math.max(0, deadline - Date.now())), undefined, {
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
}

/**
 * The configuration, or 'locked' when Primero answers 503 (the worker took its configuration lock between
 * this request and the /health/api one). Not retried: a retry that outlasts a short failed apply would hide
 * the only sign that the apply ran.
 */
async function configurationUnlessLocked(
  client: PrimeroClient,
  id: string,
): Promise<ConfigurationMeta | undefined | 'locked'> {
  try {
    return await getConfiguration(client, id, { busyRetries: 0 });
  } catch (error) {
    if (error instanceof PrimeroApiError && error.status === 503) return 'locked';
    throw error;
  }
}

/** Waits until a configuration id exists on the client's site. */
export async function waitForConfiguration(
  client: PrimeroClient,
  id: string,
  options: WaitOptions,
): Promise<ConfigurationMeta | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const found = await getConfiguration(client, id);
    if (found) return found;
    if (Date.now() >= deadline) return undefined;
    await sleep(Math.min(options.pollIntervalMs, Math.max(0, deadline - Date.now())), undefined, {
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
}
