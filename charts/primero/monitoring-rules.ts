/**
 * The site's alert rules, in Prometheus's rule-file format (prometheus.io "Alerting rules": groups of rules with
 * `alert`, `expr`, `for`, `labels`, `annotations`). The same groups go into a PrometheusRule (prometheus-operator's
 * `spec.groups` has that shape) or a ConfigMap for a Prometheus without the operator (`rule_files`).
 *
 * Every expression selects `{site="<site>"}`, so rules rendered for two sites never answer for each other, and
 * compares series scraped from the same target, so the label sets match one to one without `on()`.
 * Times are compared as Unix timestamps (`time() - x_timestamp_seconds`), as prometheus.io "Instrumentation"
 * advises exporting the time of an event rather than the time since it.
 */

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: AlertRule[];
}

export interface RuleSettings {
  site: string;
  runbookBaseUrl: string;
  /** The exporter's pause between runs, in seconds: a doctor that has not run for three of them is stale. */
  intervalSeconds: number;
}

function runbook(base: string, file: string): string {
  return `${base.endsWith('/') ? base : `${base}/`}${file}`;
}

export function alertRules(settings: RuleSettings): RuleGroup[] {
  const s = `site="${settings.site}"`;
  const url = (file: string) => runbook(settings.runbookBaseUrl, file);
  const rule = (
    alert: string,
    severity: 'critical' | 'warning',
    expr: string,
    forDuration: string,
    summary: string,
    description: string,
    file: string,
  ): AlertRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity, site: settings.site },
    annotations: { summary, description, runbook_url: url(file) },
  });
  const stale = Math.max(900, settings.intervalSeconds * 3);
  return [
    {
      name: `tier4-${settings.site}`,
      rules: [
        rule(
          'Tier4BackupTooOld',
          'critical',
          `(time() - tier4_backup_last_success_timestamp_seconds{${s}} > tier4_backup_rpo_seconds{${s}}) or (tier4_repository_up{${s}} == 1 unless tier4_backup_last_success_timestamp_seconds{${s}})`,
          '10m',
          '{{ $labels.site }}: no good backup within the RPO',
          'The newest backup of {{ $labels.site }} without problems is older than the recovery point objective, or there is none. Check the tier4-backup CronJob and `tier4 backup list`.',
          'backups.md',
        ),
        rule(
          'Tier4BackupHasProblems',
          'warning',
          `tier4_backup_last_problems{${s}} > 0`,
          '5m',
          '{{ $labels.site }}: the newest backup has {{ $value }} problem(s)',
          'The newest backup set of {{ $labels.site }} is missing or has damaged attachments, or failed verification: it would restore incompletely. `tier4 backup list --site {{ $labels.site }}` names the set.',
          'backups.md',
        ),
        rule(
          'Tier4DrillOverdue',
          'warning',
          `(time() - tier4_drill_last_success_timestamp_seconds{${s}} > tier4_drill_interval_seconds{${s}}) or (tier4_drill_interval_seconds{${s}} unless tier4_drill_last_success_timestamp_seconds{${s}})`,
          '30m',
          '{{ $labels.site }}: a restore drill is overdue',
          'No restore drill of {{ $labels.site }} has passed within the drill interval: nobody knows that its backups restore. Run `tier4 drill`.',
          'restore-drill.md',
        ),
        rule(
          'Tier4DrillFailed',
          'critical',
          `tier4_drill_last_ok{${s}} == 0`,
          '5m',
          '{{ $labels.site }}: the last restore drill failed',
          'The newest restore drill of {{ $labels.site }} failed (or its record fails its MAC). Read its report before relying on the backups.',
          'restore-drill.md',
        ),
        rule(
          'Tier4RepositoryUnreadable',
          'critical',
          `tier4_repository_up{${s}} == 0`,
          '15m',
          '{{ $labels.site }}: the backup repository cannot be read',
          'The doctor could not list the backup repository of {{ $labels.site }}: backups and restores fail too. Check the storage endpoint, its credentials and the network policy.',
          'backups.md',
        ),
        rule(
          'Tier4UntrustedBackupSets',
          'critical',
          `tier4_backup_untrusted_sets{${s}} > 0`,
          '5m',
          '{{ $labels.site }}: {{ $value }} backup set(s) fail their integrity check',
          'Manifests in the repository of {{ $labels.site }} fail their MAC: altered, or written under another integrity key. Treat it as a possible breach until explained.',
          'data-breach.md',
        ),
        rule(
          'Tier4CertificateExpiring',
          'warning',
          `tier4_certificate_expiry_timestamp_seconds{${s}} - time() < ignoring(certificate, where) group_left() tier4_certificate_warn_seconds{${s}}`,
          '1h',
          '{{ $labels.site }}: certificate {{ $labels.certificate }} ({{ $labels.where }}) expires soon',
          'The {{ $labels.where }} certificate {{ $labels.certificate }} of {{ $labels.site }} expires within tls.warnDays. Renew or rotate it.',
          'certificate-rotation.md',
        ),
        rule(
          'Tier4CertificateExpiryCritical',
          'critical',
          `tier4_certificate_expiry_timestamp_seconds{${s}} - time() < ignoring(certificate, where) group_left() tier4_certificate_fail_seconds{${s}}`,
          '10m',
          '{{ $labels.site }}: certificate {{ $labels.certificate }} ({{ $labels.where }}) expires within the failure threshold',
          'The {{ $labels.where }} certificate {{ $labels.certificate }} of {{ $labels.site }} expires within tls.failDays, or has expired: users will soon be unable to connect.',
          'certificate-rotation.md',
        ),
        rule(
          'Tier4CertificateNotReloaded',
          'warning',
          `tier4_certificate_served_matches_stored{${s}} == 0`,
          '30m',
          '{{ $labels.site }}: the served certificate is not the stored one',
          'nginx of {{ $labels.site }} still serves an older certificate than the one stored: it was not reloaded after a renewal. Run `tier4 certs rotate` or reload nginx.',
          'certificate-rotation.md',
        ),
        rule(
          'Tier4DoctorDown',
          'warning',
          `tier4_doctor_up{${s}} == 0`,
          '15m',
          '{{ $labels.site }}: the doctor cannot run ({{ $labels.reason }})',
          'The exporter answers but its checks do not run (reason {{ $labels.reason }}: config means tier4.yaml does not load). Every other tier4 alert is blind until fixed; the exporter log says why.',
          'monitoring.md',
        ),
        rule(
          'Tier4ExporterDown',
          'critical',
          `absent(tier4_doctor_last_run_timestamp_seconds{${s}}) or (time() - tier4_doctor_last_run_timestamp_seconds{${s}} > ${stale})`,
          '10m',
          '{{ $labels.site }}: no tier4 metrics',
          `Prometheus has no recent tier4 metrics for ${settings.site}: the tier4-exporter pod is down, not scraped, or its runs hang. Every other tier4 alert is blind until fixed.`,
          'monitoring.md',
        ),
      ],
    },
  ];
}
