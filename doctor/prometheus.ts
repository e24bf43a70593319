/** The Prometheus text exposition format, for node_exporter's textfile collector or a Pushgateway. */
export interface Metric {
  name: string;
  help: string;
  labels: Record<string, string>;
  value: number;
}

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
}

export function prometheusText(metrics: Metric[]): string {
  const byName = new Map<string, Metric[]>();
  for (const metric of metrics) byName.set(metric.name, [...(byName.get(metric.name) ?? []), metric]);
  const lines: string[] = [];
  for (const [name, series] of byName) {
    lines.push(`# HELP ${name} ${series[0]!.help}`, `# TYPE ${name} gauge`);
    for (const metric of series) {
      const labels = Object.entries(metric.labels)
        .map(([key, value]) => `${key}="${escapeLabel(value)}"`)
        .join(',');
      lines.push(
        `${name}${labels ? `{${labels}}` : ''} ${Number.isFinite(metric.value) ? metric.value : 'NaN'}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
