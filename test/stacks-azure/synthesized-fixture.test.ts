import { readFile, writeFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { loadConfig } from '../../core/config/load.js';
import { synthesizeAzureDemo } from '../../stacks/azure-demo/synth.js';
import { FIXTURE, SYNTHESIZED, tempDir } from './helpers.js';

/**
 * The policy tests (policy.test.ts) read the stack's resources from SYNTHESIZED instead of synthesizing it
 * each time; this keeps that file the synthesis of today's stack. After a change to the stack, rewrite it with
 *   TIER4_UPDATE_SYNTHESIZED=1 npx vitest run test/stacks-azure/synthesized-fixture.test.ts
 * and review the diff: it is exactly what the change does to the Azure resources.
 */
test("the policy tests' synthesized stack is the fixture site's synthesis today", async () => {
  const result = await synthesizeAzureDemo(loadConfig(FIXTURE), 'demo', await tempDir('synthesized'));
  const fresh = { resource: JSON.parse(await readFile(result.file, 'utf8')).resource };
  if (process.env.TIER4_UPDATE_SYNTHESIZED === '1')
    await writeFile(SYNTHESIZED, `${JSON.stringify(fresh, null, 2)}\n`);
  expect(JSON.parse(await readFile(SYNTHESIZED, 'utf8'))).toEqual(fresh);
});
