import { describe, expect, test } from 'vitest';
import { DataScriptError, DataScriptRouter, type Routed } from '../../backups/postgres/data-script-router.js';

// The shape of `pg_restore --file=- --use-list=<TABLE DATA items>` (PostgreSQL 15.20), as printed on this machine.
const PREAMBLE = [
  '--',
  '-- PostgreSQL database dump',
  '--',
  '',
  '\\restrict MiBn2QtJgqzsKcQXbYYDvj0850SwjBsMOUcdPET748Xbcl3ZmcB8xfpNkRpmNMw',
  '',
  'SET statement_timeout = 0;',
  'SET lock_timeout = 0;',
  "SET client_encoding = 'UTF8';",
  'SET standard_conforming_strings = on;',
  "SELECT pg_catalog.set_config('search_path', '', false);",
  'SET row_security = off;',
  '',
].join('\n');

function copyBlock(statement: string, rows: string[], end = '\\.\n'): string {
  return `--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: tier4\n--\n\n${statement}\n${rows.map((r) => `${r}\n`).join('')}${end}\n\n`;
}

const HOSTILE_ROWS = [
  '1\tplain',
  '2\tDROP TABLE cases;',
  '3\t\\\\.', // a value that is a backslash and a dot: COPY writes the backslash doubled
  '\\\\.', // a whole row that starts that way
  '4\t\\! rm -rf /',
  'COPY public.x (a) FROM stdin;',
  '\\unrestrict MiBn2QtJgqzsKcQXbYYDvj0850SwjBsMOUcdPET748Xbcl3ZmcB8xfpNkRpmNMw',
  '5\tline\\nbreak\\rcr\\ttab',
  '6\t\\N',
  '7\t.\\.', // a dot and an escaped dot, not at the line start
  '\\.x', // not the end: more follows the dot
  '8\tÜñíçødé ✓',
];

const SCRIPT =
  PREAMBLE +
  copyBlock('COPY public.t (id, v) FROM stdin;', HOSTILE_ROWS) +
  copyBlock('COPY public."we""ird\nname;" ("a ""b"" FROM stdin;", c) FROM stdin;', ['9\tx', '10\ty']) +
  copyBlock('COPY public.empty (id) FROM stdin;', []) +
  '\\unrestrict MiBn2QtJgqzsKcQXbYYDvj0850SwjBsMOUcdPET748Xbcl3ZmcB8xfpNkRpmNMw\n\n--\n-- PostgreSQL database dump complete\n--\n\n';

function route(script: Buffer, cut: (length: number) => number[]): Routed[] {
  const router = new DataScriptRouter();
  const out: Routed[] = [];
  let from = 0;
  for (const at of [...cut(script.length), script.length]) {
    out.push(...router.push(script.subarray(from, at)));
    from = at;
  }
  out.push(...router.end());
  return out;
}

/** What one psql session would read, given the rows it was handed (`mine` picks them). */
function sessionScript(pieces: Routed[], mine: (index: number) => boolean): string {
  let rowIndex = 0;
  return pieces
    .filter((p) => p.to === 'every' || mine(rowIndex++))
    .map((p) => p.bytes.toString('utf8'))
    .join('');
}

describe('the data script router (decision 0019)', () => {
  test('every session gets the preamble and each COPY statement; rows go to one; nothing is lost or added', () => {
    const pieces = route(Buffer.from(SCRIPT), () => []);
    // Given every row, one session reads exactly pg_restore's script.
    expect(sessionScript(pieces, () => true)).toBe(SCRIPT);
    const rows = pieces.filter((p) => p.to === 'one').map((p) => p.bytes.toString('utf8'));
    expect(rows.join('')).toBe(`${HOSTILE_ROWS.join('\n')}\n9\tx\n10\ty\n`);
    // Rows never reach a session as a statement: each row piece is whole lines, none of them the end marker.
    for (const piece of rows) {
      expect(piece.endsWith('\n')).toBe(true);
      expect(piece.split('\n')).not.toContain('\\.');
    }
    const every = pieces.filter((p) => p.to === 'every').map((p) => p.bytes.toString('utf8'));
    expect(every.filter((p) => p.startsWith('COPY '))).toHaveLength(3);
    expect(every.filter((p) => p === '\\.\n')).toHaveLength(3);
  });

  test('the same routing for every way the script can arrive in chunks', () => {
    const script = Buffer.from(SCRIPT);
    const whole = route(script, () => []);
    const expected = JSON.stringify(whole.map((p) => [p.to, p.bytes.toString('hex')]));
    const normalise = (pieces: Routed[]) => {
      // Chunking may split one run of rows into several pieces: join consecutive row pieces before comparing.
      const merged: Array<[string, string]> = [];
      for (const p of pieces) {
        const last = merged.at(-1);
        if (p.to === 'one' && last?.[0] === 'one') last[1] += p.bytes.toString('hex');
        else merged.push([p.to, p.bytes.toString('hex')]);
      }
      return JSON.stringify(merged);
    };
    for (let at = 1; at < script.length; at += 1) {
      expect(normalise(route(script, () => [at])), `cut at ${at}`).toBe(normalise(whole));
    }
    expect(normalise(whole)).toBe(expected);
    // One byte at a time.
    expect(normalise(route(script, (n) => Array.from({ length: n - 1 }, (_, i) => i + 1)))).toBe(
      normalise(whole),
    );
  });

  test('a COPY whose rows end with \\.\\r\\n ends there, as psql ends it', () => {
    const script = `${PREAMBLE}COPY public.t (id) FROM stdin;\n1\n2\n\\.\r\nSET lock_timeout = 0;\n`;
    const pieces = route(Buffer.from(script), () => []);
    expect(pieces.filter((p) => p.to === 'one').map((p) => p.bytes.toString())).toEqual(['1\n2\n']);
    expect(pieces.at(-1)).toEqual({ to: 'every', bytes: Buffer.from('SET lock_timeout = 0;\n') });
  });

  test.each([
    [
      'a statement it does not know',
      'DROP TABLE cases;\n',
      /line \d+ .* not a statement tier4 routes \(it begins with DROP\)/,
    ],
    ['a psql meta-command', '\\! rm -rf /\n', /not a statement tier4 routes$/],
    ['a multi-line SET', 'SET search_path = \n', /not a statement tier4 routes \(it begins with SET\)/],
    ['a COPY from a file', "COPY public.t (id) FROM '/etc/passwd';\n", /does not read FROM stdin/],
    ['a COPY to stdout', 'COPY public.t (id) TO stdout;\n', /does not read FROM stdin/],
  ])('refuses %s outside COPY data, without echoing it', (_name, line, message) => {
    const router = new DataScriptRouter();
    const run = () => {
      router.push(Buffer.from(PREAMBLE + line));
      router.end();
    };
    expect(run).toThrow(DataScriptError);
    expect(run).toThrow(message);
    try {
      new DataScriptRouter().push(Buffer.from(PREAMBLE + line));
    } catch (error) {
      expect(String(error)).not.toContain('passwd');
      expect(String(error)).not.toContain('rm -rf');
    }
  });

  test.each([
    [
      'inside the rows of a table',
      `${PREAMBLE}COPY public.t (id) FROM stdin;\n1\n2\n`,
      /inside the rows of a table/,
    ],
    ['inside a COPY statement', `${PREAMBLE}COPY public."a\n`, /inside a statement/],
    [
      'in the middle of a line',
      `${PREAMBLE}COPY public.t (id) FROM stdin;\n1\n\\.\nSET a = 1`,
      /inside a statement/,
    ],
  ])('a script that ends %s is an error (the data is incomplete)', (_name, script, message) => {
    const router = new DataScriptRouter();
    router.push(Buffer.from(script));
    expect(() => router.end()).toThrow(message);
  });

  test('a quoted name whose first line ends with a semicolon, a short statement, CR-LF lines', () => {
    const script =
      PREAMBLE +
      copyBlock('COPY public."semi;\nname" (id) FROM stdin;', ['1']) +
      copyBlock('COPY t FROM stdin;', ['2']) +
      'COPY u FROM stdin;\r\n3\n\\.\r\n';
    const pieces = route(Buffer.from(script), () => []);
    expect(pieces.filter((p) => p.to === 'one').map((p) => p.bytes.toString())).toEqual([
      '1\n',
      '2\n',
      '3\n',
    ]);
    const every = pieces.filter((p) => p.to === 'every').map((p) => p.bytes.toString());
    expect(every).toContain('COPY public."semi;\nname" (id) FROM stdin;\n');
    expect(every).toContain('COPY t FROM stdin;\n');
    expect(every.slice(-2)).toEqual(['COPY u FROM stdin;\r\n', '\\.\r\n']);
  });

  test('one-column rows that come closest to the end marker stay rows: empty, NULL, a dot, a backslash pair', () => {
    const rows = ['', '\\N', '7.', '.', '\\\\', '\\.x', ''];
    for (let cut = 0; cut <= 20; cut += 1) {
      const script = `${PREAMBLE}COPY public.one (v) FROM stdin;\n${rows.join('\n')}\n\\.\nSET lock_timeout = 0;\n`;
      const at = PREAMBLE.length + 'COPY public.one (v) FROM stdin;\n'.length + cut;
      const router = new DataScriptRouter();
      const pieces = route(Buffer.from(script), () => [at]);
      expect(
        pieces
          .filter((p) => p.to === 'one')
          .map((p) => p.bytes.toString())
          .join(''),
        `cut ${cut}`,
      ).toBe(`${rows.join('\n')}\n`);
      expect(pieces.at(-1)!.bytes.toString()).toBe('SET lock_timeout = 0;\n');
      router.push(Buffer.from(script));
      expect(router.rows).toBe(rows.length);
    }
  });

  test("the line an error names is the script's line, counted through the rows", () => {
    const script = `${PREAMBLE}COPY public.t (id) FROM stdin;\n1\n2\n3\n\\.\nVACUUM;\n`;
    const line = script.split('\n').indexOf('VACUUM;') + 1;
    expect(() => route(Buffer.from(script), () => [])).toThrow(`line ${line} of pg_restore's data script`);
  });

  test.each([
    'SET lock_timeout = 0; DROP TABLE cases;',
    "SELECT pg_catalog.set_config('search_path', '', false); DROP TABLE cases;",
    "SELECT pg_catalog.set_config('search_path', (SELECT 'x'), false);",
    'SET lock_timeout = 0;\tVACUUM',
    '\\restrict abc; \\! id',
    '-',
  ])('a preamble-like line with more in it is refused, not run once per session: %s', (line) => {
    expect(() => route(Buffer.from(`${PREAMBLE}${line}\n`), () => [])).toThrow(DataScriptError);
  });

  test('counts the rows it routed, and keeps none of them', () => {
    const router = new DataScriptRouter();
    router.push(Buffer.from(SCRIPT));
    router.end();
    expect(router.rows).toBe(HOSTILE_ROWS.length + 2);
  });
});
