#!/usr/bin/env node
// Writes the part of the azurerm provider schema the Azure demo stack uses, for test/stacks-azure/schema.test.ts.
// Source: .release/provider-schema.json of hashicorp/terraform-provider-azurerm at the tag matching the pinned
// @cdktf/provider-azurerm (14.23.1 = azurerm 4.55.0):
//   git show v4.55.0:.release/provider-schema.json > /tmp/azurerm.json
//   node scripts/azurerm-schema-subset.mjs /tmp/azurerm.json 4.55.0
// The resource types are those stacks/azure-demo/*.ts import from @cdktf/provider-azurerm/lib/<name>.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [source, version] = process.argv.slice(2);
if (!source || !version) {
  console.error('usage: node scripts/azurerm-schema-subset.mjs <provider-schema.json> <version>');
  process.exit(2);
}
const root = new URL('..', import.meta.url).pathname;
const stackDir = join(root, 'stacks', 'azure-demo');
const types = new Set();
for (const file of readdirSync(stackDir)) {
  const text = readFileSync(join(stackDir, file), 'utf8');
  for (const match of text.matchAll(/@cdktf\/provider-azurerm\/lib\/([a-z0-9-]+)\//g)) {
    if (match[1] === 'provider' || match[1].startsWith('data-')) continue;
    types.add(`azurerm_${match[1].replaceAll('-', '_')}`);
  }
}
const full = JSON.parse(readFileSync(source, 'utf8')).providerSchema.resources;
const resources = {};
for (const type of [...types].sort()) {
  if (!full[type]) throw new Error(`${type} is not in ${source}`);
  resources[type] = full[type].schema;
}
const out = join(root, 'test', 'stacks-azure', 'fixtures', `azurerm-${version}-schema.json`);
writeFileSync(
  out,
  `${JSON.stringify({ provider: 'azurerm', version, source: '.release/provider-schema.json', resources })}\n`,
);
console.log(`wrote ${Object.keys(resources).length} resource schemas to ${out}`);
