import { errorMessage } from '../../core/errors.js';
import type { KubeObject } from './common.js';
import type { Finding } from './policy.js';

/**
 * Schema checks for built-in kinds, without a cluster:
 *  - kubernetes-models validation (the OpenAPI schema: types, required fields, formats);
 *  - a strict unknown-field check, like `kubectl apply --validate=strict`, walking the object against the
 *    API type map of @kubernetes/client-node (the OpenAPI schemas do not forbid unknown fields).
 * Custom resources (cert-manager, CloudNativePG, Gateway API) are not checked here: their CRDs are not
 * available offline. Both libraries are loaded on demand: they are heavy.
 */

export const SCHEMA_RULE = 'schema/kubernetes-openapi';
export const UNKNOWN_FIELD_RULE = 'schema/unknown-field';

const BUILT_IN_GROUPS = new Set(['v1', 'apps/v1', 'batch/v1', 'policy/v1', 'networking.k8s.io/v1']);

export function isBuiltIn(object: KubeObject): boolean {
  return BUILT_IN_GROUPS.has(object.apiVersion);
}

type TypeMap = Record<string, { getAttributeTypeMap?: () => Array<{ baseName: string; type: string }> }>;

function unknownFields(value: unknown, type: string, path: string, models: TypeMap, out: string[]): void {
  if (value === undefined || value === null) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) out.push(`${path}: expected a list`);
    else
      for (const [index, item] of value.entries())
        unknownFields(item, array[1]!, `${path}[${index}]`, models, out);
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || Array.isArray(value)) out.push(`${path}: expected a map`);
    else
      for (const [key, item] of Object.entries(value))
        unknownFields(item, map[1]!, `${path}.${key}`, models, out);
    return;
  }
  const model = models[type];
  if (!model?.getAttributeTypeMap) return; // a primitive, IntOrString, Quantity or free-form object
  if (typeof value !== 'object' || Array.isArray(value)) {
    out.push(`${path}: expected an object`);
    return;
  }
  const fields = new Map(
    model.getAttributeTypeMap().map((attribute) => [attribute.baseName, attribute.type]),
  );
  for (const [key, item] of Object.entries(value)) {
    const fieldType = fields.get(key);
    if (fieldType === undefined) out.push(`${path ? `${path}.` : ''}${key}: unknown field`);
    else unknownFields(item, fieldType, path ? `${path}.${key}` : key, models, out);
  }
}

export async function checkSchemas(objects: KubeObject[]): Promise<Finding[]> {
  const models = (await import('@kubernetes/client-node')) as unknown as TypeMap;
  const findings: Finding[] = [];
  for (const object of objects.filter(isBuiltIn)) {
    const ref = `${object.kind}/${object.metadata.name}`;
    const modelName = `V1${object.kind}`;
    if (!models[modelName]?.getAttributeTypeMap) {
      findings.push({
        rule: SCHEMA_RULE,
        object: ref,
        message: `unknown kind ${object.apiVersion} ${object.kind}`,
      });
      continue;
    }
    const unknown: string[] = [];
    unknownFields(object, modelName, '', models, unknown);
    for (const message of unknown) findings.push({ rule: UNKNOWN_FIELD_RULE, object: ref, message });

    const module = (await import(
      /* @vite-ignore */ `kubernetes-models/${object.apiVersion}/${object.kind}`
    )) as Record<string, new (data: unknown) => { validate(): void }>;
    const Model = module[object.kind];
    if (!Model) {
      findings.push({ rule: SCHEMA_RULE, object: ref, message: `kubernetes-models has no ${object.kind}` });
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      findings.push({
        rule: SCHEMA_RULE,
        object: ref,
        message: errorMessage(error).split('\n').slice(0, 5).join('; '),
      });
    }
  }
  return findings;
}
