import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';

/**
 * core/postgres/connection.ts is the one place a PostgreSQL connection is opened (#19, ADR 0014): a client
 * built anywhere else would skip the TLS rule. Product code, benchmarks and test helpers alike.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const SKIP = new Set(['node_modules', 'dist', '.git', 'coverage', 'reports', '.stryker-tmp']);
const ALLOWED = join('core', 'postgres', 'connection.ts');
const SELF = relative(ROOT, import.meta.filename);
/** A value import of pg (a type import opens nothing), or a client or pool built from it. */
const OPENS =
  /import\s+(?!type\b)[^;]*\sfrom\s+'pg'|require\('pg'\)|import\('pg'\)|new\s+pg\.(Client|Pool)\(/;

async function sources(dir = ROOT): Promise<Array<{ file: string; text: string }>> {
  const out: Array<{ file: string; text: string }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP.has(entry.name)) out.push(...(await sources(path)));
    } else if (/\.(ts|mts|mjs|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      out.push({ file: relative(ROOT, path), text: await readFile(path, 'utf8') });
    }
  }
  return out;
}

describe('one connector', () => {
  test('no module but core/postgres/connection.ts loads pg as a value or builds a client or pool', async () => {
    const offenders = (await sources())
      .filter(({ file, text }) => file !== ALLOWED && file !== SELF && OPENS.test(text))
      .map(({ file }) => file);
    expect(offenders).toEqual([]);
  });

  test('the rule catches what it must (so an empty list above means something)', () => {
    expect(OPENS.test("import pg from 'pg';")).toBe(true);
    expect(OPENS.test("import { Client } from 'pg';")).toBe(true);
    expect(OPENS.test('const c = new pg.Client({});')).toBe(true);
    expect(OPENS.test("import type pg from 'pg';")).toBe(false);
  });
});
