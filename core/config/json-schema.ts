import { z } from 'zod';
import { configSchema } from './schema.js';

/**
 * tier4.yaml as a JSON Schema (draft 2020-12), generated from the zod schema that `config validate` uses, so
 * editors (e.g. the YAML language server) check and complete the file as it is written: input shapes, not
 * the parsed ones. Cross-field rules (a production site needs backups, …) stay with `config validate`.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  });
  return {
    ...schema,
    $id: 'https://github.com/primero-tier4/primero-tier4/schema/tier4.schema.json',
    title: 'tier4.yaml',
    description:
      'Configuration of a primero-tier4 deployment: its demo and production sites. Secrets are references ({env} or {file}), never values.',
  };
}
