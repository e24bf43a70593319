import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../charts/primero/common.js';
import { FIELD_TYPES, KIND_MODULES } from '../../charts/primero/kubernetes-fields.js';
import { checkSchemas, SCHEMA_RULE, UNKNOWN_FIELD_RULE } from '../../charts/primero/schema-check.js';
import { REPO_ROOT } from '../support/cli.js';

/**
 * The schema check reads API types' fields from a table generated from @kubernetes/client-node
 * (charts/primero/kubernetes-fields.ts) instead of importing each model file: the table must say what the
 * installed package says, and what it does not hold must still be checked as before.
 */
describe('the generated Kubernetes field table', () => {
  test('is what the installed @kubernetes/client-node and kubernetes-models give', async () => {
    const check = await execa(
      process.execPath,
      [join(REPO_ROOT, 'scripts', 'generate-kubernetes-fields.mjs'), '--check'],
      { reject: false },
    );
    expect(check.stderr).toBe('');
    expect(check.exitCode).toBe(0);
  }, 30_000);

  test('holds the kinds the chart renders and the types their fields reach', async () => {
    const { V1Deployment } = await import('@kubernetes/client-node/dist/gen/models/V1Deployment.js');
    expect(FIELD_TYPES.V1Deployment).toEqual(
      V1Deployment.getAttributeTypeMap().map((a: { baseName: string; type: string }) => [a.baseName, a.type]),
    );
    for (const type of ['V1PodSpec', 'V1Container', 'V1SecurityContext', 'V1CronJob', 'V1NetworkPolicy'])
      expect(FIELD_TYPES[type], type).toBeDefined();
    expect(Object.keys(KIND_MODULES)).toEqual(
      expect.arrayContaining(['apps/v1/Deployment', 'batch/v1/CronJob']),
    );
    expect(
      ((await KIND_MODULES['apps/v1/Deployment']!()) as { Deployment: { kind: string } }).Deployment.kind,
    ).toBe('Deployment');
  });

  test('a kind outside the table is looked up in the package: an unknown one is a finding', async () => {
    const object = { apiVersion: 'v1', kind: 'Frobnicator', metadata: { name: 'x' } } as KubeObject;
    expect(await checkSchemas([object])).toEqual([
      { rule: SCHEMA_RULE, object: 'Frobnicator/x', message: 'unknown kind v1 Frobnicator' },
    ]);
  });

  test('a field named like an Object property is still an unknown field', async () => {
    const object = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x', constructor: 'y', toString: 'z' },
      data: {},
    } as unknown as KubeObject;
    const findings = await checkSchemas([object]);
    expect(findings.filter((finding) => finding.rule === UNKNOWN_FIELD_RULE)).toEqual([
      { rule: UNKNOWN_FIELD_RULE, object: 'ConfigMap/x', message: 'metadata.constructor: unknown field' },
      { rule: UNKNOWN_FIELD_RULE, object: 'ConfigMap/x', message: 'metadata.toString: unknown field' },
    ]);
  });
});
