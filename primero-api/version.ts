/**
 * Primero release versions: `v2.15.2` (image tags), `2.15.2` or `2.0.0.1` (what the API reports).
 * Compared segment by segment, numerically, like Ruby's Gem::Version for plain releases.
 */

export function normalizeVersion(text: string): string {
  return text.trim().replace(/^v/i, '');
}

/** Negative when a < b, 0 when equal, positive when a > b; undefined when either is not a version. */
export function compareVersions(a: string, b: string): number | undefined {
  const parse = (text: string) => {
    const core = normalizeVersion(text).split(/[-+]/)[0] ?? '';
    if (!/^\d+(\.\d+)*$/.test(core)) return undefined;
    return core.split('.').map(Number);
  };
  const left = parse(a);
  const right = parse(b);
  if (!left || !right) return undefined;
  for (let i = 0; i < Math.max(left.length, right.length); i += 1) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
