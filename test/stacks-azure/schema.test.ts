import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../core/config/load.js';
import type { TerraformJson } from '../../stacks/azure-demo/policy.js';
import { synthesizeAzureDemo } from '../../stacks/azure-demo/synth.js';
import { EXAMPLE, FIXTURE, tempDir, terraformRef } from './helpers.js';

/**
 * Every synthesized azurerm resource against the provider's own schema for the pinned release: the
 * resource part of `.release/provider-schema.json` in hashicorp/terraform-provider-azurerm at v4.55.0
 * (what @cdktf/provider-azurerm 14.23.1 binds), cut down to the types the stack imports by
 * scripts/azurerm-schema-subset.mjs. Terraform itself cannot run here (no registry), so this is the
 * `terraform validate` of attribute names, required attributes, block nesting and value types.
 */

interface AttrSchema {
  type: 'TypeString' | 'TypeBool' | 'TypeInt' | 'TypeFloat' | 'TypeList' | 'TypeSet' | 'TypeMap';
  optional?: boolean;
  required?: boolean;
  computed?: boolean;
  maxItems?: number;
  minItems?: number;
  elem?: { type?: string; schema?: Record<string, AttrSchema> };
}
type Schema = Record<string, AttrSchema>;

const SCHEMA_FILE = join(import.meta.dirname, 'fixtures', 'azurerm-4.55.0-schema.json');
/** Terraform meta-arguments, valid on every resource. */
const META = new Set(['depends_on', 'lifecycle', 'provider', 'count', 'for_each', '//']);

const isReference = (value: unknown) => typeof value === 'string' && value.includes('${');

function valueProblem(schema: AttrSchema, value: unknown): string | undefined {
  if (isReference(value)) return undefined;
  const ok = {
    TypeString: typeof value === 'string',
    TypeBool: typeof value === 'boolean',
    TypeInt: Number.isInteger(value),
    TypeFloat: typeof value === 'number',
    TypeList: Array.isArray(value),
    TypeSet: Array.isArray(value),
    TypeMap: value !== null && typeof value === 'object' && !Array.isArray(value),
  }[schema.type];
  if (!ok) return `is ${JSON.stringify(value)}, not a ${schema.type}`;
  if (Array.isArray(value) && schema.elem?.type) {
    const bad = value.find((item) => valueProblem({ type: schema.elem!.type as AttrSchema['type'] }, item));
    if (bad !== undefined) return `holds ${JSON.stringify(bad)}, not a ${schema.elem.type}`;
  }
  return undefined;
}

/** Problems of one resource (or nested block) against its schema, each prefixed with its path. */
function schemaProblems(schema: Schema, attrs: Record<string, unknown>, path: string): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(attrs)) {
    if (path.split('.').length === 2 && META.has(key)) continue;
    const where = `${path}.${key}`;
    const attr = schema[key];
    if (!attr) {
      problems.push(`${where} is not an attribute of this block`);
      continue;
    }
    if (attr.computed && !attr.optional && !attr.required) {
      problems.push(`${where} is computed by the provider and cannot be set`);
      continue;
    }
    const nested = attr.elem?.schema;
    if (!nested) {
      const problem = valueProblem(attr, value);
      if (problem) problems.push(`${where} ${problem}`);
      continue;
    }
    const items = (Array.isArray(value) ? value : [value]) as Array<Record<string, unknown>>;
    if (attr.maxItems !== undefined && items.length > attr.maxItems)
      problems.push(`${where} has ${items.length} blocks, at most ${attr.maxItems} allowed`);
    if (attr.minItems !== undefined && items.length < attr.minItems)
      problems.push(`${where} has ${items.length} blocks, at least ${attr.minItems} needed`);
    items.forEach((item, index) => {
      problems.push(...schemaProblems(nested, item, `${where}[${index}]`));
    });
  }
  for (const [key, attr] of Object.entries(schema)) {
    if (attr.required && !(key in attrs)) problems.push(`${path}.${key} is required and missing`);
  }
  return problems;
}

function docProblems(doc: TerraformJson, resources: Record<string, Schema>): string[] {
  const problems: string[] = [];
  for (const [type, byName] of Object.entries(doc.resource ?? {})) {
    if (!type.startsWith('azurerm_')) continue;
    const schema = resources[type];
    if (!schema) {
      problems.push(`${type} is not in the schema subset: run scripts/azurerm-schema-subset.mjs`);
      continue;
    }
    for (const [name, attrs] of Object.entries(byName)) {
      problems.push(...schemaProblems(schema, attrs, `${type}.${name}`));
    }
  }
  return problems;
}

async function synthesized(configFile: string): Promise<TerraformJson> {
  const result = await synthesizeAzureDemo(loadConfig(configFile), 'demo', await tempDir('schema'));
  return JSON.parse(await readFile(result.file, 'utf8'));
}

describe('the synthesized stack against the azurerm 4.55.0 provider schema', () => {
  let resources: Record<string, Schema>;
  beforeAll(async () => {
    const file = JSON.parse(await readFile(SCHEMA_FILE, 'utf8'));
    expect(file.version).toBe('4.55.0');
    resources = file.resources;
  });

  test.each([
    ['the shipped example', EXAMPLE],
    ['the test fixture', FIXTURE],
  ])('%s: every azurerm block is valid', async (_label, config) => {
    const doc = await synthesized(config);
    const types = Object.keys(doc.resource ?? {}).filter((type) => type.startsWith('azurerm_'));
    expect(types.length).toBeGreaterThan(20);
    expect(docProblems(doc, resources)).toEqual([]);
  });

  test('the check notices an unknown attribute, a missing required one, a wrong type and a computed one', () => {
    const doc: TerraformJson = {
      resource: {
        azurerm_role_assignment: {
          bad: { scope: '/x', principal_id: 7, role_definition_nam: 'Reader' },
        },
        azurerm_monitor_data_collection_rule_association: {
          bad: { target_resource_id: terraformRef('azurerm_kubernetes_cluster.aks.id'), id: 'x' },
        },
        azurerm_monitor_data_collection_rule: {
          bad: {
            name: 'r',
            resource_group_name: 'g',
            location: 'l',
            destinations: [{ log_analytics: [{ name: 'w' }] }],
            data_flow: [],
          },
        },
      },
    };
    expect(docProblems(doc, resources)).toEqual([
      'azurerm_role_assignment.bad.principal_id is 7, not a TypeString',
      'azurerm_role_assignment.bad.role_definition_nam is not an attribute of this block',
      'azurerm_monitor_data_collection_rule_association.bad.id is not an attribute of this block',
      'azurerm_monitor_data_collection_rule.bad.destinations[0].log_analytics[0].workspace_resource_id is required and missing',
      'azurerm_monitor_data_collection_rule.bad.data_flow has 0 blocks, at least 1 needed',
    ]);
  });
});
