import { execa } from 'execa';

/**
 * Debian's `prometheus` package (2.42) ships promtool, installed by .ci/run. `promtool check metrics` reads
 * an exposition on stdin and exits 1 on a format error or a naming-convention problem (the Prometheus
 * "Metric and label naming" rules it lints: units, `_total` only on counters, and so on).
 */
export const PROMTOOL = process.env.TIER4_PROMTOOL ?? '/usr/bin/promtool';
export const PROMETHEUS = process.env.TIER4_PROMETHEUS ?? '/usr/bin/prometheus';

export async function promtool(args: string[], input?: string): Promise<{ code: number; output: string }> {
  const result = await execa(PROMTOOL, args, {
    reject: false,
    timeout: 30_000,
    ...(input === undefined ? { stdin: 'ignore' } : { input }),
  });
  return { code: result.exitCode ?? 1, output: `${result.stdout}\n${result.stderr}`.trim() };
}

/** The sample lines of an exposition as {name, labels, value}. */
export function samples(
  text: string,
): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]!] = pair[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    out.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return out;
}
