const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Parses a duration such as `90m`, `24h`, `30d`, `2w` into seconds; undefined when malformed. */
export function parseDurationSeconds(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/.exec(text);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_SECONDS[match[2]!]!);
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'never';
  const abs = Math.abs(seconds);
  if (abs < 120) return `${Math.round(seconds)}s`;
  if (abs < 7200) return `${Math.round(seconds / 60)}m`;
  if (abs < 172_800) return `${(seconds / 3600).toFixed(1)}h`;
  return `${(seconds / 86_400).toFixed(1)}d`;
}
