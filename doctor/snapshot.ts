import type { LoadedConfig } from '../core/config/load.js';
import { type DoctorOptions, type DoctorReport, runDoctor } from './run.js';
import { renderStatusPage } from './status-page.js';

/** One doctor run with everything people and Prometheus are shown: the report and the status page. */
export async function doctorSnapshot(
  loaded: LoadedConfig,
  options: DoctorOptions,
): Promise<{ report: DoctorReport; html: string }> {
  const report = await runDoctor(loaded, options);
  const { auditHistory, readAudit } = await import('../promotion/index.js');
  const { auditLogPathFor } = await import('../promotion/index.js');
  let promotions: ReturnType<typeof auditHistory> = [];
  try {
    promotions = auditHistory(readAudit(auditLogPathFor(loaded)).records);
  } catch {
    // An unreadable promotion log leaves the section empty; `tier4 promote history` says why.
  }
  const wanted = options.site;
  if (wanted !== undefined) promotions = promotions.filter((run) => run.to === wanted || run.from === wanted);
  const html = renderStatusPage({ deployment: loaded.config.deployment.name, report, promotions });
  return { report, html };
}
