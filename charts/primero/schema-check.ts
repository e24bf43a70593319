import { errorMessage } from '../../core/errors.js';
import type { KubeObject } from './common.js';
import { FIELD_TYPES, KIND_MODULES } from './kubernetes-fields.js';
import type { Finding } from './policy.js';

/**
 * Schema checks for built-in kinds, without a cluster:
 *  - kubernetes-models validation (the OpenAPI schema: types, required fields, formats);
 *  - a strict unknown-field check, like `kubectl apply --validate=strict`, walking the object against the
 *    API type map of @kubernetes/client-node (the OpenAPI schemas do not forbid unknown fields).
 * Custom resources (cert-manager, CloudNativePG, Gateway API) are not checked here: their CRDs are not
 * available offline. The field maps are a generated table (kubernetes-fields.ts); each kind's validator is
 * loaded on demand: they are heavy.
 */

export const SCHEMA_RULE = 'schema/kubernetes-openapi';
export const UNKNOWN_FIELD_RULE = 'schema/unknown-field';

const BUILT_IN_GROUPS = new Set(['v1', 'apps/v1', 'batch/v1', 'policy/v1', 'networking.k8s.io/v1']);

export function isBuiltIn(object: KubeObject): boolean {
  return BUILT_IN_GROUPS.has(object.apiVersion);
}

interface ModelClass {
  getAttributeTypeMap(): Array<{ baseName: string; type: string }>;
}

/**
 * One API type's fields (name → type), as its @kubernetes/client-node model lists them. The types the built-in
 * kinds reach come from FIELD_TYPES (generated from that package, kubernetes-fields.ts); any other type from its
 * model file (dist/gen/models/<Type>.js: the package has no exports map, and each generated model file imports
 * nothing). Importing the ~65 model files a render reaches cost most of the check's time; the package's index
 * would pull in about 1,900 modules (its whole API client).
 */
const fieldCache = new Map<string, Promise<Map<string, string> | undefined>>();
function fieldsOf(type: string): Promise<Map<string, string> | undefined> {
  // Only generated type names reach here (V1Pod, CoreV1EndpointPort…): never a path from data.
  if (!/^[A-Z][A-Za-z0-9]*$/.test(type)) return Promise.resolve(undefined);
  let fields = fieldCache.get(type);
  if (!fields) {
    fields = Object.hasOwn(FIELD_TYPES, type)
      ? Promise.resolve(new Map(FIELD_TYPES[type]))
      : loadModel(type).then((model) =>
          model
            ? new Map(model.getAttributeTypeMap().map((attribute) => [attribute.baseName, attribute.type]))
            : undefined,
        );
    fieldCache.set(type, fields);
  }
  return fields;
}

function loadModel(type: string): Promise<ModelClass | undefined> {
  return import(/* @vite-ignore */ `@kubernetes/client-node/dist/gen/models/${type}.js`).then(
    (module: Record<string, unknown>) => {
      const candidate = module[type] as Partial<ModelClass> | undefined;
      return typeof candidate?.getAttributeTypeMap === 'function' ? (candidate as ModelClass) : undefined;
    },
    () => undefined, // a primitive, IntOrString, Quantity or free-form object: no model file
  );
}

async function unknownFields(value: unknown, type: string, path: string, out: string[]): Promise<void> {
  if (value === undefined || value === null) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) out.push(`${path}: expected a list`);
    else
      for (const [index, item] of value.entries())
        await unknownFields(item, array[1]!, `${path}[${index}]`, out);
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || Array.isArray(value)) out.push(`${path}: expected a map`);
    else
      for (const [key, item] of Object.entries(value))
        await unknownFields(item, map[1]!, `${path}.${key}`, out);
    return;
  }
  const fields = await fieldsOf(type);
  if (!fields) return;
  if (typeof value !== 'object' || Array.isArray(value)) {
    out.push(`${path}: expected an object`);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const fieldType = fields.get(key);
    if (fieldType === undefined) out.push(`${path ? `${path}.` : ''}${key}: unknown field`);
    else await unknownFields(item, fieldType, path ? `${path}.${key}` : key, out);
  }
}

/** kubernetes-models' module of the object's kind: a literal import for the built-in kinds (KIND_MODULES). */
function kindModule(object: KubeObject): Promise<Record<string, unknown>> {
  const key = `${object.apiVersion}/${object.kind}`;
  if (Object.hasOwn(KIND_MODULES, key)) return KIND_MODULES[key]!();
  return import(/* @vite-ignore */ `kubernetes-models/${key}`);
}

export async function checkSchemas(objects: KubeObject[]): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const object of objects.filter(isBuiltIn)) {
    const ref = `${object.kind}/${object.metadata.name}`;
    const modelName = `V1${object.kind}`;
    if (!(await fieldsOf(modelName))) {
      findings.push({
        rule: SCHEMA_RULE,
        object: ref,
        message: `unknown kind ${object.apiVersion} ${object.kind}`,
      });
      continue;
    }
    const unknown: string[] = [];
    await unknownFields(object, modelName, '', unknown);
    for (const message of unknown) findings.push({ rule: UNKNOWN_FIELD_RULE, object: ref, message });

    const module = (await kindModule(object)) as Record<string, new (data: unknown) => { validate(): void }>;
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
