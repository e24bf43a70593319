/**
 * The Prometheus text exposition format (version 0.0.4), served by `tier4 doctor serve` and printed by
 * `tier4 doctor --format prometheus`. Facts from prometheus.io "Exposition formats": one `# HELP` and one
 * `# TYPE` line per metric family, all samples of a family together, label values escaped for `\`, `"` and
 * newline, HELP text escaped for `\` and newline. Names follow prometheus.io "Metric and label naming": base
 * units (`_seconds`, `_bytes`), `_timestamp_seconds` for Unix times, `_total` for counters.
 */
export interface Metric {
  name: string;
  help: string;
  labels: Record<string, string>;
  value: number;
  /** Default gauge. A counter's name ends in `_total`. */
  type?: 'gauge' | 'counter';
}

/** The content type Prometheus expects for this format. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
}

function escapeHelp(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

export function prometheusText(metrics: Metric[]): string {
  const byName = new Map<string, Metric[]>();
  for (const metric of metrics) byName.set(metric.name, [...(byName.get(metric.name) ?? []), metric]);
  const lines: string[] = [];
  for (const [name, series] of byName) {
    const first = series[0]!;
    lines.push(`# HELP ${name} ${escapeHelp(first.help)}`, `# TYPE ${name} ${first.type ?? 'gauge'}`);
    const seen = new Set<string>();
    for (const metric of series) {
      const labels = Object.entries(metric.labels)
        .map(([key, value]) => `${key}="${escapeLabel(value)}"`)
        .join(',');
      // A repeated series is invalid exposition: Prometheus rejects the whole scrape. Keep the first.
      if (seen.has(labels)) continue;
      seen.add(labels);
      lines.push(`${name}${labels ? `{${labels}}` : ''} ${formatValue(metric.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * What to expose when the doctor could not run at all (the configuration does not load, or the run threw):
 * `tier4_doctor_up 0` with the reason, so an alert on it fires instead of a scrape of an empty page.
 */
export function doctorDownMetrics(sites: string[], reason: string, now: Date): Metric[] {
  const labelled = sites.length > 0 ? sites : [''];
  return labelled.flatMap((site): Metric[] => [
    {
      name: 'tier4_doctor_up',
      help: 'Whether the doctor could run its checks (1), or not (0): a configuration error, a crash, or not run yet.',
      labels: { site, reason },
      value: 0,
    },
    {
      name: 'tier4_doctor_last_run_timestamp_seconds',
      help: 'When the doctor last ran (Unix time).',
      labels: { site },
      value: Math.floor(now.getTime() / 1000),
    },
  ]);
}
