import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SiteRepository } from '../backups/index.js';
import { compactTime, layout, macMatches, macOf } from '../backups/index.js';
import { drillJUnit, drillMarkdown } from './render.js';
import type { DrillReport } from './report.js';

/** Writes the three reports: JSON for machines, Markdown for people, JUnit XML for CI systems. */
export async function writeDrillReports(
  report: DrillReport,
  dir: string,
): Promise<{ json: string; markdown: string; junit: string }> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, `drill-${report.site}-${compactTime(new Date(report.startedAt))}`);
  const paths = { json: `${base}.json`, markdown: `${base}.md`, junit: `${base}.junit.xml` };
  // Reports name the site, its row counts and blob keys: readable by the owner and its group, no one else.
  const write = async (path: string, text: string) => {
    await writeFile(path, text, { mode: 0o640 });
    await chmod(path, 0o640);
  };
  await write(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  await write(paths.markdown, drillMarkdown(report));
  await write(paths.junit, drillJUnit(report));
  return paths;
}

/** Keeps the summary in the repository (with a MAC), so the drill history outlives the machine that ran it. */
export async function saveDrillSummary(repo: SiteRepository, report: DrillReport): Promise<string> {
  const key = layout.drill(repo.site, new Date(report.startedAt), report.id);
  await repo.store.putBytes(key, `${JSON.stringify({ report, mac: macOf(repo.macKey, report) }, null, 2)}\n`);
  return key;
}

export interface DrillHistoryEntry {
  report: DrillReport;
  /** False when the summary's MAC does not match: someone altered it, or the integrity key differs. */
  authentic: boolean;
}

export async function drillHistory(repo: SiteRepository): Promise<DrillHistoryEntry[]> {
  const entries: DrillHistoryEntry[] = [];
  for await (const object of repo.store.list(layout.drillsPrefix(repo.site))) {
    const bytes = await repo.store.getBytes(object.key);
    if (!bytes) continue;
    try {
      const { report, mac } = JSON.parse(bytes.toString('utf8')) as { report: DrillReport; mac: string };
      entries.push({
        report,
        authentic: typeof mac === 'string' && repo.macKeys.some((key) => macMatches(key, report, mac)),
      });
    } catch {
      // not a drill summary
    }
  }
  return entries.sort((a, b) => a.report.startedAt.localeCompare(b.report.startedAt));
}

/** The newest authentic drill that passed. */
export function lastPassedDrill(history: DrillHistoryEntry[]): DrillReport | undefined {
  return [...history].reverse().find((entry) => entry.authentic && entry.report.ok)?.report;
}
