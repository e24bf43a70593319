/**
 * How long `tier4 site synth demo` takes on the shipped example, module loading included (the target is
 * under 5 s). Run: npx tsx bench/synth-demo.ts [config] [site]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config/load.js';
import { packageRoot } from '../core/package-info.js';

const configFile = process.argv[2] ?? join(packageRoot(), 'examples', 'tier4.example.yaml');
const site = process.argv[3] ?? 'demo';
const out = await mkdtemp(join(tmpdir(), 'tier4-synth-bench-'));
try {
  const started = performance.now();
  const { synthesizeAzureDemo } = await import('../stacks/azure-demo/synth.js');
  const loadedAt = performance.now();
  const result = await synthesizeAzureDemo(loadConfig(configFile), site, out);
  const done = performance.now();
  console.log(
    `synth ${site}: ${result.resourceCount} resources, ${result.policy.passed} checks passed, ${result.policy.failed} failed`,
  );
  console.log(
    `load ${(loadedAt - started).toFixed(0)} ms + synth ${(done - loadedAt).toFixed(0)} ms = ${(done - started).toFixed(0)} ms (target < 5000 ms)`,
  );
} finally {
  await rm(out, { recursive: true, force: true });
}
