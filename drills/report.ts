import type { CheckStatus } from '../core/checks.js';
import type { StepRecord } from '../core/steps.js';

/**
 * What a restore drill found: each check with its evidence, the measures, and the steps' durations.
 * A drill check passes (`ok`), fails, or was not run (`skip`): the one check vocabulary, without warnings.
 */
export type DrillCheckStatus = Exclude<CheckStatus, 'warn'>;

export interface DrillCheck {
  name: string;
  status: DrillCheckStatus;
  /** What was compared and what was found: ids, counts, sizes and timings only. */
  evidence: string;
  details?: Record<string, unknown>;
}

export interface DrillReport {
  /**
   * /2 says `ok` where /1 said `pass` for a check. Readers of stored summaries (doctor, status page) use only
   * `ok`, `failedChecks` and `measures`, which mean the same in both.
   */
  format: 'tier4-drill/2';
  id: string;
  site: string;
  setId: string;
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  failedChecks: string[];
  checks: DrillCheck[];
  measures: {
    /** Wall time from the start of the drill until the data was verified. */
    rtoSeconds: number;
    /** Age of the data: the drill's start against the backup's snapshot time. */
    dataAgeSeconds: number;
    bytesMoved: number;
  };
  /** Each step as it happened, a failing one with its (redacted) error. */
  steps: StepRecord[];
  scratchDatabase: string;
  tool: { name: string; version: string };
}

export const CHECK_ORDER = [
  'checksums',
  'decryption',
  'restore',
  'row-counts',
  'schema-migrations',
  'primero-version',
  'extensions',
  'system-settings',
  'attachments',
  'health',
] as const;
