import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { NAMES } from '../charts/primero/common.js';
import { POLICY_RULES } from '../charts/primero/policy.js';
import { CHECK_STATUSES, countStatuses, passes, worstStatus } from '../core/checks.js';
import { kubernetesSettingsSchema } from '../core/config/kubernetes.js';
import {
  DEFAULT_BACKUP_SCHEDULE,
  DEFAULT_COMPRESSION,
  DEFAULT_DRILL_INTERVAL,
  DEFAULT_DRILL_SAMPLE,
  DEFAULT_DRILL_SCHEDULE,
  DEFAULT_NAMESPACE,
  DEFAULT_NGINX_DEPLOYMENT,
  DEFAULT_RETENTION,
  DEFAULT_RPO,
  DEFAULT_TLS_SECRET,
  DEFAULT_WAL_ARCHIVE,
  siteSchema,
} from '../core/config/schema.js';
import { tlsSettingsSchema } from '../core/config/tls.js';
import { errorMessage } from '../core/errors.js';
import { evaluateRules, type PolicyRule } from '../core/policy.js';
import { POLICY_CHECKS } from '../stacks/azure-demo/policy.js';
import { tier4 } from './support/cli.js';

/** The product's TypeScript sources (not tests, not dependencies, not the build). */
async function productSources(): Promise<Array<{ file: string; text: string }>> {
  const root = join(import.meta.dirname, '..');
  const skip = new Set(['node_modules', 'dist', 'test', '.git', 'coverage', 'reports', '.stryker-tmp']);
  const out: Array<{ file: string; text: string }> = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!skip.has(entry.name)) await walk(join(dir, entry.name));
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const file = join(dir, entry.name);
        out.push({ file: file.slice(root.length + 1), text: await readFile(file, 'utf8') });
      }
    }
  }
  await walk(root);
  return out;
}

describe('one check vocabulary (core/checks.ts)', () => {
  test('ok, warn, fail, skip; only a failure fails; the worst wins', () => {
    expect([...CHECK_STATUSES]).toEqual(['ok', 'warn', 'fail', 'skip']);
    expect(CHECK_STATUSES.filter(passes)).toEqual(['ok', 'warn', 'skip']);
    expect(worstStatus([])).toBe('ok');
    expect(worstStatus(['skip'])).toBe('skip');
    expect(worstStatus(['skip', 'ok'])).toBe('ok');
    expect(worstStatus(['ok', 'warn', 'skip'])).toBe('warn');
    expect(worstStatus(['warn', 'fail', 'ok'])).toBe('fail');
    expect(countStatuses([{ status: 'ok' }, { status: 'fail' }, { status: 'ok' }])).toEqual({
      ok: 2,
      warn: 0,
      fail: 1,
      skip: 0,
    });
  });

  test('no product module declares its own status words (pass, passed, skipped, waived)', async () => {
    const offenders: string[] = [];
    for (const { file, text } of await productSources()) {
      for (const [index, line] of text.split('\n').entries()) {
        if (/'(pass|passed|skipped|waived)'\s*\||\|\s*'(pass|passed|skipped|waived)'|\? 'pass' :/.test(line))
          offenders.push(`${file}:${index + 1}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('one policy-rule shape (core/policy.ts)', () => {
  test('the chart and the Azure stack both use it: unique ids, a title and a severity', () => {
    const chart: ReadonlyArray<PolicyRule<never, never>> = POLICY_RULES;
    const azure: ReadonlyArray<PolicyRule<never, never>> = POLICY_CHECKS;
    for (const rules of [chart, azure]) {
      expect(new Set(rules.map((rule) => rule.id)).size).toBe(rules.length);
      for (const rule of rules) {
        expect(rule.title.length, rule.id).toBeGreaterThan(10);
        expect(['fail', 'warn'], rule.id).toContain(rule.severity);
      }
    }
  });

  test('a rule that finds nothing is ok, one that finds something takes its severity, a waiver makes it warn', () => {
    const rules: Array<PolicyRule<string[]>> = [
      { id: 'none', title: 'never finds', severity: 'fail', check: () => [] },
      {
        id: 'empty',
        title: 'finds empty names',
        severity: 'fail',
        check: (names) =>
          names.filter((n) => n === '').map(() => ({ rule: 'empty', object: '?', message: 'empty' })),
      },
      {
        id: 'long',
        title: 'finds long names',
        severity: 'warn',
        check: (names) =>
          names.filter((n) => n.length > 3).map((n) => ({ rule: 'long', object: n, message: 'long' })),
      },
    ];
    const outcomes = evaluateRules(rules, ['', 'abcd'], undefined);
    expect(outcomes.map((o) => [o.rule, o.status, o.findings.length])).toEqual([
      ['none', 'ok', 0],
      ['empty', 'fail', 1],
      ['long', 'warn', 1],
    ]);
    const waived = evaluateRules(rules, [''], undefined, [{ rule: 'empty', reason: 'known' }]);
    expect(waived[1]).toMatchObject({ status: 'warn', reason: 'known' });
    expect(waived[0]).not.toHaveProperty('reason');
  });
});

describe('one errorMessage() (core/errors.ts)', () => {
  test('the message of an Error, the text of anything else', () => {
    expect(errorMessage(new TypeError('bad'))).toBe('bad');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
  });

  test('no product module writes its own', async () => {
    const own = /instanceof Error \? \w+\.message : String\(|\(\w+ as Error\)\.message/;
    const offenders = (await productSources())
      .filter(({ file, text }) => file !== join('core', 'errors.ts') && own.test(text))
      .map(({ file }) => file);
    expect(offenders).toEqual([]);
  });
});

describe('defaults stated once (core/config/schema.ts)', () => {
  test('the schema fills in the exported constants', () => {
    const site = siteSchema.parse({
      role: 'production',
      platform: 'kubernetes',
      primero: { url: 'https://primero.example.org', version: 'v2.15.2' },
      database: { url: 'postgres://primero@db.example.org/primero', password: { env: 'P' } },
      attachments: { type: 'local', path: '/srv/attachments' },
      backups: {
        repository: 's3://tier4-backups/production',
        integrityKey: { env: 'K' },
        encryption: { recipients: ['age12ua8xs7zn4mcuf6za0nus29ttg47j8wnz84frqxgrnm07gtq2e6qdk3mhd'] },
      },
      drills: {},
    });
    expect(site.backups).toMatchObject({
      retention: DEFAULT_RETENTION,
      schedule: DEFAULT_BACKUP_SCHEDULE,
      rpo: DEFAULT_RPO,
      compression: DEFAULT_COMPRESSION,
    });
    expect(site.drills).toEqual({
      interval: DEFAULT_DRILL_INTERVAL,
      attachmentSample: DEFAULT_DRILL_SAMPLE,
      schedule: DEFAULT_DRILL_SCHEDULE,
    });
    expect(tlsSettingsSchema.parse({ source: { type: 'kubernetes-secret' } }).source).toEqual({
      type: 'kubernetes-secret',
      secret: DEFAULT_TLS_SECRET,
      deployment: DEFAULT_NGINX_DEPLOYMENT,
    });
    // certs rotate restarts the Deployment tier4's own chart renders for nginx.
    expect(NAMES.nginx).toBe(DEFAULT_NGINX_DEPLOYMENT);
    const k = kubernetesSettingsSchema.parse({
      postgres: { mode: 'cloudnativepg', walArchive: { destinationPath: 's3://wal/primero' } },
    });
    expect(k.namespace).toBe(DEFAULT_NAMESPACE);
    expect(k.postgres).toMatchObject({ walArchive: DEFAULT_WAL_ARCHIVE });
  });

  test('no other product module spells a default again', async () => {
    const literals = [
      DEFAULT_BACKUP_SCHEDULE,
      DEFAULT_DRILL_SCHEDULE,
      DEFAULT_NGINX_DEPLOYMENT,
      DEFAULT_TLS_SECRET,
      DEFAULT_WAL_ARCHIVE.credentialsSecret,
    ];
    const where = new Map<string, string[]>();
    for (const { file, text } of await productSources()) {
      for (const literal of literals) {
        if (text.includes(`'${literal}'`)) where.set(literal, [...(where.get(literal) ?? []), file]);
      }
    }
    expect(Object.fromEntries(where)).toEqual({
      [DEFAULT_BACKUP_SCHEDULE]: [join('core', 'config', 'schema.ts')],
      [DEFAULT_DRILL_SCHEDULE]: [join('core', 'config', 'schema.ts')],
      [DEFAULT_NGINX_DEPLOYMENT]: [join('core', 'config', 'tls.ts')],
      [DEFAULT_TLS_SECRET]: [join('core', 'config', 'tls.ts')],
      [DEFAULT_WAL_ARCHIVE.credentialsSecret]: [join('core', 'config', 'kubernetes.ts')],
    });
  });
});

describe('help that says what the code does', () => {
  test('--temp-dir: the dump goes there with --jobs above 1 or a target that exists empty; bucket attachments too', async () => {
    const help = await tier4(['restore', 'run', '--help']);
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('when --jobs is above 1 or the target exists empty');
    expect(text).toContain('attachments bound for a bucket pass through it');
  });
});
