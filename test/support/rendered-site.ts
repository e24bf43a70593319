import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { KubeObject } from '../../charts/primero/common.js';
import { loadConfig } from '../../core/config/load.js';
import type { Tier4Config } from '../../core/config/schema.js';
import { planSite } from '../../stacks/production/site.js';
import { REPO_ROOT } from './cli.js';

/** A site's objects as `tier4 site render` builds them, from the shipped example (optionally edited). */

// biome-ignore lint/suspicious/noExplicitAny: tests read manifests freely
export type Any = any;

const EXAMPLE = join(REPO_ROOT, 'examples', 'tier4.example.yaml');

/** The example with one edit, written to a temporary tier4.yaml; returns its path. */
export function exampleFile(edit: (doc: ReturnType<typeof parseDocument>) => void): string {
  const doc = parseDocument(readFileSync(EXAMPLE, 'utf8'));
  edit(doc);
  const dir = mkdtempSync(join(tmpdir(), 'tier4-ops-pods-'));
  writeFileSync(join(dir, 'tier4.yaml'), doc.toString());
  return join(dir, 'tier4.yaml');
}

export function exampleConfig(edit?: (doc: ReturnType<typeof parseDocument>) => void): Tier4Config {
  return loadConfig(edit ? exampleFile(edit) : EXAMPLE).config;
}

export function render(site: string, config = exampleConfig()): KubeObject[] {
  return planSite(config, site, { configText: '' }).manifests.map((manifest) => manifest.object);
}

export function cronJob(objects: KubeObject[], name: string): Any {
  const job = objects.find((object) => object.kind === 'CronJob' && object.metadata.name === name);
  if (!job) throw new Error(`no CronJob ${name}`);
  return job;
}

export const podOf = (job: Any) => job.spec.jobTemplate.spec.template.spec;
export const envNames = (job: Any) => (podOf(job).containers[0].env as Any[]).map((item) => item.name);
