import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * The import graph of tier4's TypeScript sources, read from the text (static, type-only, re-exports and
 * dynamic `import()`), and the boundary rule it must keep (docs/decisions/0001-layout-and-cli.md):
 *
 * - a feature is a top-level folder (backups, drills, certs, promotion, primero-api, doctor, charts, stacks,
 *   rehearsal, runbooks…); it imports its own files, `core/`, and other features through their `index.ts`;
 * - `cli/` is the command layer: it imports itself, `core/` and features' `index.ts`, like a feature;
 * - `core/` imports only `core/`; nothing imports `cli/`.
 */

export interface ImportEdge {
  /** Importing file, relative to the root, with forward slashes. */
  from: string;
  line: number;
  /** The imported file (.js written in the source, read as the .ts it is compiled from). */
  to: string;
}

const NOT_SOURCES = new Set(['node_modules', 'dist', 'test', 'bench', 'docs', 'examples', 'scripts', 'bin']);
const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(root: string, dir = root): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || (dir === root && NOT_SOURCES.has(entry.name))) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') files.push(...sourceFiles(root, path));
    } else if (dir !== root && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

const posix = (path: string) => path.split(sep).join('/');

/** Every relative import in the sources under `root` (each top-level folder but tests, benchmarks and docs). */
export function importEdges(root: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(SPECIFIER)) {
      const to = posix(relative(root, resolve(dirname(file), match[1]!))).replace(/\.js$/, '.ts');
      const line = text.slice(0, match.index).split('\n').length;
      edges.push({ from: posix(relative(root, file)), line, to });
    }
  }
  return edges;
}

const area = (path: string) => path.split('/')[0]!;

/** Whether `from` may import `to` under the rule above. */
export function mayImport(from: string, to: string): boolean {
  const [a, b] = [area(from), area(to)];
  if (a === b) return true;
  if (a === 'core' || b === 'cli') return false;
  return b === 'core' || to === `${b}/index.ts`;
}

/** The imports that break the rule, as `from -> to` with the line of each. */
export function boundaryViolations(edges: ImportEdge[]): Map<string, number[]> {
  const found = new Map<string, number[]>();
  for (const edge of edges) {
    if (mayImport(edge.from, edge.to)) continue;
    const key = `${edge.from} -> ${edge.to}`;
    found.set(key, [...(found.get(key) ?? []), edge.line]);
  }
  return found;
}
