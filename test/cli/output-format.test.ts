import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT, tier4 } from '../support/cli.js';

const EXAMPLE = join(REPO_ROOT, 'examples', 'tier4.example.yaml');

/** Runs a command twice, with --json and with -o yaml; both print one document, the same one. */
async function bothWays(args: string[]) {
  const json = await tier4(['--json', ...args]);
  const yaml = await tier4(['-o', 'yaml', ...args]);
  expect(yaml.code).toBe(json.code);
  const fromJson = JSON.parse(json.stdout);
  expect(parse(yaml.stdout)).toEqual(fromJson);
  // YAML, not JSON that happens to parse as YAML.
  expect(yaml.stdout.trimStart().startsWith('{')).toBe(false);
  return { code: json.code, document: fromJson, yaml: yaml.stdout };
}

describe('-o yaml beside --json', () => {
  test('config show: the same document', async () => {
    const { code, document } = await bothWays(['config', 'show', '-c', EXAMPLE]);
    expect(code).toBe(0);
    expect(Object.keys(document.sites)).toEqual(['demo', 'production']);
  });

  test('runbook list, and -o json is --json', async () => {
    const { code, document } = await bothWays(['runbook', 'list']);
    expect(code).toBe(0);
    expect(JSON.parse((await tier4(['runbook', 'list', '-o', 'json'])).stdout)).toEqual(document);
    expect(JSON.parse((await tier4(['runbook', 'list', '--output=json'])).stdout)).toEqual(document);
  });

  test('a failure is one error document in either format', async () => {
    // The example's placeholder recipients fail validation (exit 1).
    const { code, document } = await bothWays(['config', 'validate', '-c', EXAMPLE]);
    expect(code).toBe(1);
    expect(document).toMatchObject({ ok: false, error: { exitCode: 1 } });
  });

  test('a usage error with -o yaml is a YAML document on stdout', async () => {
    const { code, document } = await bothWays(['bakup', 'list']);
    expect(code).toBe(2);
    expect(document.error.message).toContain("unknown command 'bakup'");
  });

  test('text stays the default; an unknown format is a usage error', async () => {
    const text = await tier4(['runbook', 'list', '-o', 'text']);
    expect(text.code).toBe(0);
    expect(() => JSON.parse(text.stdout)).toThrow();
    const bad = await tier4(['runbook', 'list', '-o', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Allowed choices are text, json, yaml');
  });

  test('-o no longer names a file: the old habit is refused with a hint, and nothing is written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-output-'));
    const file = join(dir, 'identity.txt');
    const result = await tier4(['backup', 'keygen', '-o', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('use --out or --out-dir');
    expect(existsSync(file)).toBe(false);
    const written = await tier4(['backup', 'keygen', '--out', file]);
    expect(written.code, written.stderr).toBe(0);
    expect(existsSync(file)).toBe(true);
  });
});
