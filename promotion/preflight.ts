import type { CheckStatus } from '../core/checks.js';
import { formatSeconds } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import {
  compareVersions,
  normalizeVersion,
  readServiceAccount,
  readSystemVersion,
  type ServiceAccount,
} from '../primero-api/index.js';
import type { PromotionSession } from './session.js';

/**
 * Before anything is compared or changed: are both sites up, is demo's Primero not newer than
 * production's (Primero would silently refuse the apply), may the service account manage configurations,
 * and is there a recent enough production backup.
 */

export interface PreflightCheck {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface PreflightResult {
  checks: PreflightCheck[];
  /** A failed check: promotion must not go on. */
  blocked: boolean;
  /** False when a site was unreachable: there is nothing to compare. */
  sitesUp: boolean;
  fromVersion?: string;
  toVersion?: string;
  /** Each site's service account, when Primero said who it is. */
  accounts?: { from?: ServiceAccount; to?: ServiceAccount };
}

/**
 * Resources (as Primero lists a user's permissions: pluralized) that hold records about people: the record
 * types (app/models/permission.rb: case, incident, tracing_request, registry_record, family, and the case
 * views potential_match and duplicate) and users. Promotion needs none of them.
 */
export const RECORD_RESOURCES = [
  'cases',
  'incidents',
  'tracing_requests',
  'registry_records',
  'families',
  'potential_matches',
  'duplicates',
  'users',
];

/** What the account may do to records or users: `cases: read, write`, … */
export function recordAccess(account: ServiceAccount): string[] {
  return RECORD_RESOURCES.filter((resource) => (account.permissions[resource] ?? []).length > 0).map(
    (resource) => `${resource}: ${account.permissions[resource]!.join(', ')}`,
  );
}

async function accountCheck(
  session: PromotionSession,
  end: 'from' | 'to',
): Promise<{ check: PreflightCheck; account?: ServiceAccount }> {
  const name = `${session[end].name} service account`;
  let account: ServiceAccount;
  try {
    account = await readServiceAccount(session[end].client);
  } catch (error) {
    return { check: { name, status: 'warn', detail: `could not read its role: ${errorMessage(error)}` } };
  }
  const extra = recordAccess(account);
  if (extra.length === 0) {
    return { check: { name, status: 'ok', detail: 'no access to records or users' }, account };
  }
  return {
    check: {
      name,
      status: 'warn',
      detail:
        `its role (${account.roleUniqueId ?? 'unknown'}) can reach records or users, beyond what promotion needs: ` +
        `${extra.join('; ')}. Give it a configuration-only role (runbooks/configuration-promotion.md)`,
    },
    account,
  };
}

export const BACKUPS_UNAVAILABLE = 'skipped: backups not available in this version';

async function healthCheck(session: PromotionSession, end: 'from' | 'to'): Promise<PreflightCheck[]> {
  const { name, client } = session[end];
  const checks: PreflightCheck[] = [];
  const health = await client.health();
  if (health.status === undefined) {
    checks.push({
      name: `${name} /health`,
      status: 'fail',
      detail: `unreachable (${health.error}) at ${client.baseUrl.origin}`,
    });
    return checks;
  }
  if (health.status >= 300) {
    checks.push({
      name: `${name} /health`,
      status: 'fail',
      detail: `HTTP ${health.status}: Primero reports its database${session[end].site.primero.solr ? ' or Solr' : ''} unreachable`,
    });
    return checks;
  }
  checks.push({ name: `${name} /health`, status: 'ok', detail: `HTTP ${health.status}` });
  const api = await client.health('api');
  if (api.status === 503) {
    checks.push({
      name: `${name} /health/api`,
      status: 'fail',
      detail: 'HTTP 503: a configuration is being applied right now; wait for it to finish',
    });
  }
  return checks;
}

async function versionOf(
  session: PromotionSession,
  end: 'from' | 'to',
): Promise<{ version: string; source: string }> {
  const reported = await readSystemVersion(session[end].client);
  if (reported) return { version: normalizeVersion(reported), source: 'reported' };
  return { version: normalizeVersion(session[end].site.primero.version), source: 'configured' };
}

async function backupCheck(session: PromotionSession): Promise<PreflightCheck> {
  const name = `${session.to.name} backup`;
  const newestBackupAt = session.ctx.hooks?.newestBackupAt;
  if (!newestBackupAt) return { name, status: 'skip', detail: BACKUPS_UNAVAILABLE };
  const rpo = session.to.site.backups?.rpo;
  let newest: Date | undefined;
  try {
    newest = await newestBackupAt(session.to.name);
  } catch (error) {
    // Not being able to look is worth a warning, not a reason to block the plan.
    return {
      name,
      status: 'warn',
      detail: `could not check ${session.to.name}'s backups: ${errorMessage(error)}`,
    };
  }
  if (!newest)
    return { name, status: 'warn', detail: `no backup of ${session.to.name} found; consider --backup` };
  const ageSeconds = (session.now().getTime() - newest.getTime()) / 1000;
  if (rpo && ageSeconds > rpo.seconds) {
    return {
      name,
      status: 'warn',
      detail: `newest backup is ${formatSeconds(ageSeconds)} old, older than the RPO (${rpo.text}); consider --backup`,
    };
  }
  return {
    name,
    status: 'ok',
    detail: `newest backup ${formatSeconds(ageSeconds)} old${rpo ? ` (RPO ${rpo.text})` : ''}`,
  };
}

export async function preflight(session: PromotionSession): Promise<PreflightResult> {
  session.progress(`checking ${session.from.name} and ${session.to.name}`);
  const checks = [...(await healthCheck(session, 'from')), ...(await healthCheck(session, 'to'))];
  // A site that is down, or locked by an apply, answers nothing useful yet: stop here.
  if (checks.some((check) => check.status === 'fail')) {
    return { checks, blocked: true, sitesUp: false };
  }

  // 401 and 403 throw here, with a message that says which site and what to fix.
  const from = await versionOf(session, 'from');
  const to = await versionOf(session, 'to');
  const order = compareVersions(from.version, to.version);
  const versions = `${session.from.name} ${from.version} (${from.source}), ${session.to.name} ${to.version} (${to.source})`;
  if (order === undefined) {
    checks.push({ name: 'versions', status: 'warn', detail: `cannot compare: ${versions}` });
  } else if (order > 0) {
    checks.push({
      name: 'versions',
      status: 'fail',
      detail: `${session.from.name} runs a newer Primero than ${session.to.name}: ${versions}; upgrade ${session.to.name} first (Primero would not apply this configuration)`,
    });
  } else {
    checks.push({ name: 'versions', status: 'ok', detail: versions });
  }

  for (const end of ['from', 'to'] as const) {
    // Any list call proves the role has primero_configuration: manage (403 throws a clear error).
    await session[end].client.get('configurations', { per: 1 });
    checks.push({
      name: `${session[end].name} configuration API`,
      status: 'ok',
      detail: 'primero_configuration: manage',
    });
  }

  const accounts: NonNullable<PreflightResult['accounts']> = {};
  for (const end of ['from', 'to'] as const) {
    const { check, account } = await accountCheck(session, end);
    checks.push(check);
    if (account) accounts[end] = account;
  }

  checks.push(await backupCheck(session));
  return {
    checks,
    blocked: checks.some((check) => check.status === 'fail'),
    sitesUp: true,
    fromVersion: from.version,
    toVersion: to.version,
    accounts,
  };
}
