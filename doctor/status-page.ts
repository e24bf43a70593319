import { formatBytes as bytes } from '../core/bytes.js';
import type { CheckStatus } from '../core/checks.js';
import { formatSeconds } from '../core/duration.js';
import type { AuditRecord } from '../promotion/index.js';
import type { DoctorReport, SiteFindings } from './run.js';

/**
 * The status page for people: one self-contained HTML document (inline CSS and SVG, no script, no font, no
 * image file, so it works offline and under a `default-src 'none'` policy), readable on a phone. It shows ids,
 * times, sizes and counts: never record content, names of people (the promotion log's operator is left out)
 * or secrets. Every value goes through `esc`: set ids, paths, messages and promotion fields come from storage
 * or remote systems and are not trusted.
 */

export interface StatusInput {
  deployment: string;
  report: DoctorReport;
  /** Promotion runs, newest first (auditHistory). */
  promotions: AuditRecord[];
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

const BACKUPS_SHOWN = 30;
const DRILLS_SHOWN = 10;
const PROMOTIONS_SHOWN = 10;

function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? esc(iso) : esc(date.toISOString().replace('T', ' ').slice(0, 16));
}

function badge(state: CheckStatus, text: string): string {
  return `<span class="b ${state}">${esc(text)}</span>`;
}

function table(headers: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${esc(empty)}</p>`;
  return `<div class="scroll"><table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((cell) => `<td>${cell}</td>`).join('')}</tr>`)
    .join('')}</tbody></table></div>`;
}

/** Stored size of each set over time as bars; a set with problems is drawn in the failure colour. */
function timeline(sets: NonNullable<SiteFindings['repository']>['sets']): string {
  if (sets.length === 0) return '';
  const shown = sets.slice(-BACKUPS_SHOWN);
  const max = Math.max(1, ...shown.map((set) => set.totalBytes));
  const width = 600;
  const height = 120;
  const step = width / shown.length;
  const bars = shown
    .map((set, index) => {
      const h = Math.max(2, Math.round((set.totalBytes / max) * (height - 20)));
      const bad = set.problems > 0 || set.lastVerified?.ok === false;
      return `<rect x="${(index * step + step * 0.15).toFixed(1)}" y="${height - h}" width="${(step * 0.7).toFixed(1)}" height="${h}" class="${bad ? 'bar-bad' : 'bar'}"><title>${esc(set.id)}: ${esc(bytes(set.totalBytes))}${bad ? ', problems' : ''}</title></rect>`;
    })
    .join('');
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="Backup size over time, oldest left"><text x="0" y="12" class="axis">${esc(bytes(max))}</text>${bars}</svg>`;
}

function siteSection(name: string, site: SiteFindings, report: DoctorReport, now: Date): string {
  const checks = report.checks.filter((check) => check.site === name);
  const failed = checks.filter((check) => check.status === 'fail').length;
  const repo = site.repository;
  const parts: string[] = [];
  parts.push(
    `<h2 id="site-${esc(name)}">${esc(name)} <small>${esc(site.role)}</small> ${failed ? badge('fail', `${failed} failed`) : badge('ok', 'all checks pass')}</h2>`,
  );

  parts.push('<h3>Repository</h3>');
  if (!repo) parts.push('<p class="muted">No backups configured.</p>');
  else {
    parts.push(
      `<dl><dt>Location</dt><dd><code>${esc(repo.location)}</code></dd><dt>Health</dt><dd>${
        !repo.readable
          ? badge('fail', 'cannot be read')
          : repo.untrusted > 0
            ? badge('fail', `${repo.untrusted} untrusted set(s)`)
            : badge('ok', 'readable, every manifest verified')
      }</dd><dt>Sets</dt><dd>${repo.sets.length} complete, ${repo.incomplete} incomplete</dd><dt>RPO</dt><dd>${esc(formatSeconds(repo.rpoSeconds))}</dd></dl>`,
    );
    parts.push('<h3>Backups</h3>', timeline(repo.sets));
    const rows = repo.sets
      .slice(-BACKUPS_SHOWN)
      .reverse()
      .map((set) => {
        const verified = set.lastVerified
          ? badge(
              set.lastVerified.ok ? 'ok' : 'fail',
              `${set.lastVerified.ok ? 'ok' : 'FAILED'}${set.lastVerified.deep ? ' (deep)' : ''}`,
            )
          : '<span class="muted">not yet</span>';
        const problems =
          set.problems > 0 ? badge('fail', `${set.problems} attachment problem(s)`) : badge('ok', 'none');
        const age = (now.getTime() - new Date(set.snapshotAt).getTime()) / 1000;
        return [
          `<code>${esc(set.id)}</code>`,
          `${when(set.snapshotAt)}<br><span class="muted">${esc(formatSeconds(Math.max(0, age)))} ago</span>`,
          esc(bytes(set.totalBytes)),
          `${esc(set.attachments)} (${esc(bytes(set.attachmentBytes))})`,
          problems,
          verified,
        ];
      });
    parts.push(
      table(
        ['Set', 'Snapshot (UTC)', 'Size', 'Attachments', 'Problems', 'Verified'],
        rows,
        'No complete backup yet.',
      ),
    );
  }

  parts.push(
    `<h3>Restore drills</h3><p class="muted">A drill must pass every ${esc(formatSeconds(site.drillIntervalSeconds))}.</p>`,
  );
  parts.push(
    table(
      ['Started (UTC)', 'Result', 'RTO', 'Data age', 'Set'],
      site.drills
        .slice(-DRILLS_SHOWN)
        .reverse()
        .map((drill) => [
          when(drill.startedAt),
          !drill.authentic
            ? badge('fail', 'record altered')
            : drill.ok
              ? badge('ok', 'passed')
              : badge('fail', `failed: ${drill.failedChecks.join(', ')}`),
          esc(formatSeconds(drill.rtoSeconds)),
          esc(formatSeconds(drill.dataAgeSeconds)),
          `<code>${esc(drill.setId)}</code>`,
        ]),
      'No drill on record.',
    ),
  );

  if (site.certificates.length > 0) {
    parts.push('<h3>Certificates</h3>');
    parts.push(
      table(
        ['Certificate', 'Where', 'Expires (UTC)', 'Days left', 'Status'],
        site.certificates.map((cert) => [
          esc(cert.certificate),
          esc(cert.where),
          when(cert.notAfter),
          cert.daysLeft === null ? '—' : esc(cert.daysLeft),
          badge(cert.status, cert.message),
        ]),
        'No certificate checked.',
      ),
    );
  }

  parts.push('<h3>Checks</h3>');
  parts.push(
    table(
      ['Check', 'Status', 'Detail'],
      checks.map((check) => [esc(check.check), badge(check.status, check.status), esc(check.message)]),
      'No checks ran.',
    ),
  );
  return `<section>${parts.join('\n')}</section>`;
}

function promotionsSection(promotions: AuditRecord[]): string {
  const rows = promotions
    .slice(0, PROMOTIONS_SHOWN)
    .map((run) => [
      when(run.at),
      esc(run.kind),
      esc(run.from ? `${run.from} → ${run.to}` : run.to),
      badge(run.result === 'succeeded' ? 'ok' : run.result === 'started' ? 'warn' : 'fail', run.result),
      esc(run.configurationVersion ?? '—'),
      run.summary ? esc(`${run.summary.changes} change(s), ${run.summary.destructive} destructive`) : '—',
    ]);
  return `<section><h2>Last promotions</h2>${table(['Started (UTC)', 'Kind', 'Sites', 'Result', 'Configuration', 'Changes'], rows, 'No promotion on record here.')}</section>`;
}

const STYLE = `
:root{--ok:#1a7f37;--warn:#9a6700;--fail:#cf222e;--muted:#57606a;--line:#d0d7de}
*{box-sizing:border-box}body{margin:0;padding:1rem;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff;max-width:960px;margin-inline:auto}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.25rem;margin:1.8rem 0 .4rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}h3{font-size:1.05rem;margin:1.2rem 0 .3rem}
small,.muted{color:var(--muted)}code{font:.85em ui-monospace,monospace;word-break:break-all}td code{word-break:normal;white-space:nowrap}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}th{white-space:nowrap}
.b{display:inline-block;white-space:nowrap;padding:0 .45rem;border-radius:1rem;font-size:.8rem;font-weight:600;color:#fff;background:var(--muted)}
.b.ok{background:var(--ok)}.b.warn{background:var(--warn)}.b.fail{background:var(--fail)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.3rem 0}dt{color:var(--muted)}dd{margin:0}
.chart{width:100%;height:auto;max-height:160px;border-bottom:1px solid var(--line)}.bar{fill:#0969da}.bar-bad{fill:var(--fail)}.axis{font-size:11px;fill:var(--muted)}
@media (max-width:600px){body{padding:.6rem}table{font-size:.8rem}}
`;

export function renderStatusPage(input: StatusInput): string {
  const { report } = input;
  const now = new Date(report.generatedAt);
  const failed = report.checks.filter((check) => check.status === 'fail').length;
  const sites = Object.entries(report.sites)
    .map(([name, site]) => siteSection(name, site, report, now))
    .join('\n');
  const deploymentChecks = report.checks.filter((check) => check.site === null);
  const deployment =
    deploymentChecks.length > 0
      ? `<section><h2>Deployment</h2>${table(
          ['Check', 'Status', 'Detail'],
          deploymentChecks.map((check) => [
            esc(check.check),
            badge(check.status, check.status),
            esc(check.message),
          ]),
          '',
        )}</section>`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>${esc(input.deployment)}: tier4 status</title>
<style>${STYLE}</style></head>
<body>
<header><h1>${esc(input.deployment)} ${report.ok ? badge('ok', 'all checks pass') : badge('fail', `${failed} check(s) failed`)}</h1>
<p class="muted">Generated ${when(report.generatedAt)} UTC by <code>tier4 doctor</code>. Sizes are as stored (compressed, encrypted).</p></header>
<main>
${sites}
${deployment}
${promotionsSection(input.promotions)}
</main>
</body></html>
`;
}
