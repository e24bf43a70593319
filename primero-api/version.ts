/**
 * Primero release versions: `v2.15.2` (image tags), `2.15.2`, `2.0.0.1` or `2.16.0-rc2` (what the API
 * reports). Primero decides whether a configuration may be applied with Ruby's Gem::Version
 * (app/models/primero_configuration.rb, `can_apply?`), so tier4 orders versions the same way. Facts from
 * rubygems' lib/rubygems/version.rb:
 * - a version is digits, then dot-separated alphanumeric parts, optionally `-` and a pre-release tail;
 *   anything else (`develop`, `2.15.2+build`) is not a version;
 * - `-` is read as `.pre.`, and digit runs and letter runs are separate segments (`rc2` is `rc`, 2);
 * - trailing zeros of the release part and of the pre-release part are ignored (2.16 == 2.16.0);
 * - segment by segment, a missing segment is 0, a letter segment sorts before any number (so
 *   `2.16.0-rc2` < `2.16.0` < `2.16.0.1`), numbers compare numerically and letters as strings.
 */

export function normalizeVersion(text: string): string {
  return text.trim().replace(/^v/i, '');
}

const GEM_VERSION = /^[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

type Segment = number | string;

function canonicalSegments(text: string): Segment[] | undefined {
  const version = normalizeVersion(text);
  if (!GEM_VERSION.test(version)) return undefined;
  const segments: Segment[] = (version.replaceAll('-', '.pre.').match(/[0-9]+|[a-z]+/gi) ?? []).map((part) =>
    /^\d+$/.test(part) ? Number(part) : part,
  );
  const firstLetter = segments.findIndex((segment) => typeof segment === 'string');
  const release = firstLetter === -1 ? segments : segments.slice(0, firstLetter);
  const prerelease = firstLetter === -1 ? [] : segments.slice(firstLetter);
  const trimZeros = (parts: Segment[]) => {
    const out = [...parts];
    while (out.length > 0 && out.at(-1) === 0) out.pop();
    return out;
  };
  return [...trimZeros(release), ...trimZeros(prerelease)];
}

/** Negative when a < b, 0 when equal, positive when a > b; undefined when either is not a version. */
export function compareVersions(a: string, b: string): number | undefined {
  const left = canonicalSegments(a);
  const right = canonicalSegments(b);
  if (!left || !right) return undefined;
  for (let i = 0; i < Math.max(left.length, right.length); i += 1) {
    const l = left[i] ?? 0;
    const r = right[i] ?? 0;
    if (l === r) continue;
    if (typeof l === 'string' && typeof r === 'number') return -1;
    if (typeof l === 'number' && typeof r === 'string') return 1;
    return l < r ? -1 : 1;
  }
  return 0;
}
