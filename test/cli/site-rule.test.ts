import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { getSite } from '../../core/config/load.js';
import type { Tier4Config } from '../../core/config/schema.js';
import { UsageError } from '../../core/errors.js';
import { backupSite } from '../support/backup-site.js';
import { tier4 } from '../support/cli.js';

/** The one `--site` rule: the only site of the kind the command needs, else a usage error naming them. */
describe('--site defaults to the only site of the kind the command needs', () => {
  // getSite reads only each site's platform, backups and tls: a partial configuration shows the rule.
  const config = {
    sites: { demo: { platform: 'azure' }, production: { platform: 'kubernetes' } },
  } as unknown as Tier4Config;

  it('picks the only azure site, the only kubernetes site, and refuses a need no site has', () => {
    expect(getSite(config, undefined, { need: 'azure' }).name).toBe('demo');
    expect(getSite(config, undefined, { need: 'kubernetes' }).name).toBe('production');
    expect(() => getSite(config, undefined, { need: 'backups' })).toThrow(/no site with backups/);
    expect(() => getSite(config, undefined, { command: 'doctor' })).toThrow(UsageError);
    try {
      getSite(config, undefined, { command: 'doctor' });
    } catch (error) {
      expect((error as UsageError).message).toContain('2 sites: demo, production');
      expect((error as UsageError).hint).toBe('Name one, e.g. `tier4 doctor --site demo`.');
    }
  });

  it('backup list needs no --site with one site; with two it lists them and the hint works as written', async () => {
    const site = await backupSite({ cases: 5, blobs: 1 });
    const one = await tier4(['-c', site.configPath, 'backup', 'list'], { env: site.env });
    expect(one.stderr).not.toContain('required option');
    expect(one.code).toBe(0);

    const two = parse(await readFile(site.configPath, 'utf8'));
    two.sites.second = structuredClone(two.sites[site.site]);
    const twoPath = join(site.dir, 'two.yaml');
    await writeFile(twoPath, stringify(two));
    const ambiguous = await tier4(['-c', twoPath, 'backup', 'list'], { env: site.env });
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain(`2 sites with backups: ${site.site}, second`);
    const hinted = /`tier4 (backup list --site \S+)`/.exec(ambiguous.stderr)?.[1];
    expect(hinted).toBe(`backup list --site ${site.site}`);
    const asWritten = await tier4(['-c', twoPath, ...hinted!.split(' ')], { env: site.env });
    expect(asWritten.code).toBe(0);
  });
});
