import type { LoadedConfig } from '../core/config/load.js';
import { compareLive } from './plan.js';
import { openSession } from './session.js';

/** For `tier4 doctor`: does production's live configuration match demo's? */
export interface ConfigurationDrift {
  from: string;
  to: string;
  inSync: boolean;
  /** Items a promotion would add, change or delete. */
  changes: number;
  /** Of those, the forms, lookups and reports a promotion would delete. */
  destructive: number;
}

/**
 * Compares the two sites named by `promotion:` through Primero's read APIs. Undefined when tier4.yaml has
 * no `promotion:` block. Throws the same clear errors as `tier4 promote plan` (unreachable, 401, 403).
 */
export async function configurationDrift(
  loaded: LoadedConfig,
  options: { signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {},
): Promise<ConfigurationDrift | undefined> {
  if (!loaded.config.promotion) return undefined;
  const session = openSession({
    loaded,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  const { diff } = await compareLive(session);
  return {
    from: session.from.name,
    to: session.to.name,
    inSync: diff.summary.changes === 0,
    changes: diff.summary.changes,
    destructive: diff.summary.destructive,
  };
}
