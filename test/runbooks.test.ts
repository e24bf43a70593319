import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runCli } from '../cli/main.js';
import { buildProgram } from '../cli/program.js';
import { checkCommandLine } from '../cli/usage-check.js';
import { commandLines, listRunbooks, splitWords } from '../runbooks/index.js';
import { REPO_ROOT, tier4 } from './support/cli.js';

const RUNBOOKS = [
  'backups',
  'certificate-rotation',
  'configuration-promotion',
  'data-breach',
  'disaster-recovery',
  'go-live-checklist',
  'monitoring',
  'restore-drill',
  'upgrade',
];

function program() {
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: REPO_ROOT };
  return buildProgram(io, new AbortController().signal, { exitCode: 0 });
}

/**
 * Docs write usage synopses: `site synth|plan demo`, `[--site NAME]`, `> file`. Expands the alternatives,
 * drops the brackets, and stops at a shell redirection or pipe.
 */
function proseVariants(argv: string[]): string[][] {
  const words: string[] = [];
  for (const word of argv) {
    if (['>', '|', '&&', '…', '...'].includes(word)) break;
    const bare = word.replace(/^\[+|\]+$/g, '');
    if (bare) words.push(bare);
  }
  return words.reduce<string[][]>(
    (variants, word) => {
      const alternatives = /^[a-z-]+(\|[a-z-]+)+$/.test(word) ? word.split('|') : [word];
      return variants.flatMap((variant) => alternatives.map((alternative) => [...variant, alternative]));
    },
    [[]],
  );
}

describe('the command-line checker', () => {
  const check = (line: string) => checkCommandLine(program(), splitWords(line));

  test('accepts real command lines', () => {
    for (const line of [
      'backup create --site production',
      'restore latest --site production --target-database postgres://primero@db:5432/restored --yes --confirm production',
      'drill --site production --report-dir /var/tier4/drills',
      'drill history --site production',
      '--json doctor --format prometheus',
      'certs client create --site production --name progres-dtp',
      'promote apply --allow-deletions --yes --confirm production',
      'site render production --out rendered/production',
      'config validate -c tier4.yaml',
    ]) {
      expect(check(line), line).toBeUndefined();
    }
  });

  test('catches unknown commands and options, groups named alone, and missing values', () => {
    expect(check('bakup create --site production')).toMatch(/unknown command "bakup"/);
    expect(check('backup create --site production --fast')).toMatch(/unknown option --fast/);
    expect(check('backup')).toMatch(/needs a subcommand/);
    expect(check('backup keygen')).toMatch(/needs --out/);
    // -o is the output format: the old `-o FILE` habit in a doc is caught.
    expect(check('backup keygen -o key.txt')).toMatch(/option -o takes text, json, yaml, not "key.txt"/);
    expect(check('backup list -o yaml')).toBeUndefined();
    expect(check('backup create')).toBeUndefined(); // --site defaults to the only site with backups
    expect(check('backup create --site')).toMatch(/needs a value/);
    expect(check('restore --site production --target-database postgres://x@y/z')).toMatch(/needs 1 argument/);
    expect(check('runbook show a b')).toMatch(/too many arguments/);
    // In prose, only unknown names count.
    expect(checkCommandLine(program(), splitWords('backup create'), { complete: false })).toBeUndefined();
    expect(checkCommandLine(program(), splitWords('backup create --fast'), { complete: false })).toMatch(
      /unknown option --fast/,
    );
  });
});

describe('the runbooks', () => {
  test('all of them exist, with a title', () => {
    const found = listRunbooks();
    expect(found.map((r) => r.name)).toEqual(RUNBOOKS);
    for (const runbook of found) expect(runbook.title.length).toBeGreaterThan(5);
  });

  test('every tier4 command line in them is a real command with real options', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const runbook of listRunbooks()) {
      const lines = commandLines(readFileSync(runbook.path, 'utf8'));
      expect(lines.length, `${runbook.name} names no tier4 command`).toBeGreaterThanOrEqual(2);
      for (const line of lines) {
        checked += 1;
        const problem = checkCommandLine(program(), line.argv);
        if (problem) problems.push(`runbooks/${runbook.name}.md:${line.line}: \`${line.text}\`: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  test('tier4 runbook list and show work in a terminal without a browser', async () => {
    const list = await tier4(['--json', 'runbook', 'list']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((r: { name: string }) => r.name)).toEqual(RUNBOOKS);
    const show = await tier4(['runbook', 'show', 'disaster-recovery']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('PRIMERO_MESSAGE_SECRET');
    // Formatted for a terminal: no Markdown fences or heading marks; --raw gives the source.
    expect(show.stdout).not.toContain('```');
    expect(show.stdout).not.toMatch(/^#+ /m);
    expect(show.stdout).toMatch(/^ {4,}tier4 restore /m);
    const raw = await tier4(['runbook', 'show', 'disaster-recovery', '--raw']);
    expect(raw.stdout).toContain('```');
    expect(raw.stdout).toMatch(/^# /m);
    const missing = await tier4(['runbook', 'show', 'nonexistent']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('disaster-recovery');
  });

  test('on a terminal runbook show pages through $PAGER', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-pager-'));
    const paged = join(dir, 'paged.txt');
    let stdout = '';
    const code = await runCli(['runbook', 'show', 'backups'], {
      stdout: { write: (text: string) => (stdout += text), isTTY: true },
      stderr: { write: () => true, isTTY: true },
      env: { ...process.env, NO_COLOR: '1', PAGER: `cat > ${paged}` },
      cwd: REPO_ROOT,
    });
    expect(code).toBe(0);
    expect(stdout).toBe('');
    const text = await readFile(paged, 'utf8');
    expect(text).toMatch(/^BACKUPS/);
    expect(text).not.toContain('```');
  });

  test('README.md and docs/ name only real commands and options', () => {
    const files = [
      'README.md',
      ...readdirSync(join(REPO_ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const problems: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const line of commandLines(readFileSync(join(REPO_ROOT, file), 'utf8'))) {
        for (const argv of proseVariants(line.argv)) {
          checked += 1;
          const problem = checkCommandLine(program(), argv, { complete: false });
          if (problem) problems.push(`${file}:${line.line}: \`${line.text}\`: ${problem}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  test('the README links every runbook', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    for (const name of RUNBOOKS) expect(readme).toContain(`runbooks/${name}.md`);
  });
});
