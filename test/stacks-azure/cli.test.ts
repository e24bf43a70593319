import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { settingsToRecord } from '../../core/azure-names.js';
import { tier4 } from '../support/cli.js';
import { testSecret } from '../support/secrets.js';
import { calls, EXAMPLE, FIXTURE, fakeTerraform, fixtureWith, tempDir } from './helpers.js';

/** PATH for a run: only the given folder, so an installed terraform on this machine plays no part. */
function onlyOnPath(dir: string): NodeJS.ProcessEnv {
  return { PATH: dir, TIER4_TERRAFORM: '' };
}

describe('tier4 site synth', () => {
  test('writes Terraform JSON and reports the policy checks (--json)', async () => {
    const out = await tempDir('cli-out');
    const result = await tier4(['--json', 'site', 'synth', 'demo', '-c', FIXTURE, '--out', out]);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({ ok: true, site: 'demo', outDir: out, policy: { failed: 0 } });
    expect(doc.resourceCount).toBeGreaterThan(40);
    expect(existsSync(join(out, 'stacks', 'demo', 'cdk.tf.json'))).toBe(true);
  });

  test('secrets in the configuration are never read into the stack or the output', async () => {
    const password = testSecret('demo-db-password');
    const storageKey = testSecret('demo-storage-key');
    const out = await tempDir('cli-secrets');
    const result = await tier4(['site', 'synth', 'demo', '-c', FIXTURE, '--out', out], {
      env: { T4_TEST_DEMO_DB_PASSWORD: password, T4_TEST_DEMO_STORAGE_KEY: storageKey },
    });
    expect(result.code).toBe(0);
    const written = await readFile(join(out, 'stacks', 'demo', 'cdk.tf.json'), 'utf8');
    for (const secret of [password, storageKey]) {
      expect(written).not.toContain(secret);
      expect(result.stdout + result.stderr).not.toContain(secret);
    }
  });

  test('the shipped example: tier4 site synth demo -c examples/tier4.example.yaml', async () => {
    const out = await tempDir('cli-example');
    const result = await tier4(['site', 'synth', 'demo', '-c', EXAMPLE, '--out', out]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Wrote .*cdk\.tf\.json: \d+ resources\./);
    expect(result.stdout).toContain('Policy checks: 25 passed, 0 failed.');
  });

  test('without --out it writes cdktf.out/ beside the configuration; the site defaults to the Azure one', async () => {
    const config = await fixtureWith();
    const result = await tier4(['site', 'synth', '-c', config]);
    expect(result.code).toBe(0);
    expect(existsSync(join(dirname(config), 'cdktf.out', 'stacks', 'demo', 'cdk.tf.json'))).toBe(true);
  });

  test('refuses a site that is not on Azure (exit 2)', async () => {
    const result = await tier4(['site', 'synth', 'lab', '-c', FIXTURE, '--out', await tempDir('cli-out')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Site "lab" runs on kubernetes, not azure');
  });

  test('an unknown site is a usage error', async () => {
    const result = await tier4(['site', 'synth', 'nope', '-c', FIXTURE]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('No site named "nope"');
  });

  test('a configuration that fails a policy check exits 1, naming the check; an exception waives it', async () => {
    const weak = await fixtureWith((doc) =>
      doc.setIn(['sites', 'demo', 'azure', 'keyVault', 'purgeProtection'], false),
    );
    const failed = await tier4(['site', 'synth', 'demo', '-c', weak]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('FAIL CKV_AZURE_110: Key Vault has purge protection');
    expect(failed.stdout).toContain('purge_protection_enabled is false, must be true');

    const waived = await fixtureWith((doc) => {
      doc.setIn(['sites', 'demo', 'azure', 'keyVault', 'purgeProtection'], false);
      doc.setIn(
        ['sites', 'demo', 'azure', 'policyExceptions'],
        ['CKV_AZURE_42', 'CKV_AZURE_110'].map((check) => ({
          check,
          reason: 'the demo site is torn down and rebuilt every week',
        })),
      );
    });
    const accepted = await tier4(['site', 'synth', 'demo', '-c', waived]);
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toContain('WAIVED CKV_AZURE_110');
    expect(accepted.stdout).toContain('reason: the demo site is torn down and rebuilt every week');
  });

  test('an exception for an unknown check id is a configuration error', async () => {
    const config = await fixtureWith((doc) =>
      doc.setIn(
        ['sites', 'demo', 'azure', 'policyExceptions'],
        [{ check: 'CKV_AZURE_999', reason: 'a typo in the id' }],
      ),
    );
    const result = await tier4(['site', 'synth', 'demo', '-c', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sites.demo.azure.policyExceptions.0.check: must be one of');
  });
});

describe('tier4 site plan|apply|destroy', () => {
  test('with neither terraform nor tofu installed: exit 2, naming what to install, nothing written', async () => {
    const empty = await tempDir('no-terraform');
    const out = join(await tempDir('cli-out'), 'never');
    for (const command of ['plan', 'apply', 'destroy']) {
      const extra = command === 'plan' ? [] : ['--yes', '--confirm', 'demo'];
      const result = await tier4(['site', command, 'demo', '-c', FIXTURE, '--out', out, ...extra], {
        env: onlyOnPath(empty),
      });
      expect(result.code, command).toBe(2);
      expect(result.stderr).toContain('Neither terraform nor tofu is installed');
      expect(result.stderr).toContain('https://opentofu.org');
    }
    expect(existsSync(out)).toBe(false);
  });

  test('plan runs init and plan in the synthesized stack folder', async () => {
    const fake = await fakeTerraform({ changes: true });
    const out = await tempDir('cli-out');
    const result = await tier4(['--json', 'site', 'plan', 'demo', '-c', FIXTURE, '--out', out], {
      env: onlyOnPath(fake.dir),
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: true,
      site: 'demo',
      changes: true,
      terraform: 'terraform',
    });
    expect(result.stderr).toContain('Plan: 54 to add');
    const stackDir = join(out, 'stacks', 'demo');
    expect(await calls(fake.log)).toEqual([
      `${stackDir} init -input=false -no-color`,
      `${stackDir} plan -input=false -detailed-exitcode -out=tier4.tfplan -no-color`,
    ]);
  });

  test('a failing plan is exit 1', async () => {
    const fake = await fakeTerraform({ changes: false, planExit: 1 });
    const result = await tier4(['site', 'plan', 'demo', '-c', FIXTURE, '--out', await tempDir('cli-out')], {
      env: onlyOnPath(fake.dir),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('terraform plan failed (exit 1)');
  });

  test('plan refuses to run terraform when a policy check fails', async () => {
    const fake = await fakeTerraform({ changes: true });
    const weak = await fixtureWith((doc) =>
      doc.setIn(['sites', 'demo', 'azure', 'keyVault', 'purgeProtection'], false),
    );
    const result = await tier4(['site', 'plan', 'demo', '-c', weak], { env: onlyOnPath(fake.dir) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('FAIL CKV_AZURE_110');
    expect(await calls(fake.log)).toEqual([]);
  });

  test('apply without a terminal needs --yes, and runs nothing without it', async () => {
    const fake = await fakeTerraform({ changes: true });
    const result = await tier4(['site', 'apply', 'demo', '-c', FIXTURE], { env: onlyOnPath(fake.dir) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --yes');
    expect(await calls(fake.log)).toEqual([]);
  });

  test('apply follows the one confirmation rule (#19): --yes alone or a wrong --confirm is exit 2, nothing run', async () => {
    const fake = await fakeTerraform({ changes: true });
    const env = onlyOnPath(fake.dir);
    const yesOnly = await tier4(['site', 'apply', 'demo', '-c', FIXTURE, '--yes'], { env });
    expect(yesOnly.code).toBe(2);
    expect(yesOnly.stderr).toContain('--yes also needs --confirm demo');
    expect(yesOnly.stderr).toContain(`Run: tier4 site apply demo -c ${FIXTURE} --yes --confirm demo`);
    const wrong = await tier4(['site', 'apply', 'demo', '-c', FIXTURE, '--yes', '--confirm', 'prod'], {
      env,
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--confirm prod does not match the site name demo');
    expect(await calls(fake.log)).toEqual([]);
  });

  test('apply --yes --confirm applies exactly the saved plan, then prints the outputs but never a sensitive one', async () => {
    const fake = await fakeTerraform({ changes: true });
    const out = await tempDir('cli-out');
    const result = await tier4(
      ['site', 'apply', 'demo', '-c', FIXTURE, '--out', out, '--yes', '--confirm', 'demo'],
      {
        env: onlyOnPath(fake.dir),
      },
    );
    expect(result.code).toBe(0);
    const invoked = (await calls(fake.log)).map((line) => line.split(' ').slice(1, 3).join(' '));
    expect(invoked).toEqual(['init -input=false', 'plan -input=false', 'apply -input=false', 'output -json']);
    expect((await calls(fake.log))[2]).toMatch(/ tier4\.tfplan$/);
    expect(result.stdout).toContain('aks_cluster_name');
    expect(result.stdout).toContain('aks-test-cp-demo');
    expect(result.stdout).not.toContain('sensitive-value-never-printed');
    // The fixture records none of the identities yet: apply says what to copy where.
    expect(result.stdout).toContain('Record these in tier4.yaml under sites.demo');
    expect(result.stdout).toContain('azure.tenantId: 00000000-0000-0000-0000-0000000000e1');
    expect(result.stdout).toContain(
      'azure.identities.workloadClientId: 00000000-0000-0000-0000-0000000000b1',
    );
    expect(result.stdout).toContain(
      'azure.identities.certManagerClientId: 00000000-0000-0000-0000-0000000000c1',
    );
  });

  test('apply says nothing to record when tier4.yaml already holds the outputs', () => {
    const recorded = {
      tenantId: '00000000-0000-0000-0000-0000000000e1',
      identities: {
        workloadClientId: '00000000-0000-0000-0000-0000000000b1',
        certManagerClientId: '00000000-0000-0000-0000-0000000000c1',
      },
    };
    const outputs = {
      tenant_id: recorded.tenantId,
      workload_identity_client_id: recorded.identities.workloadClientId,
      cert_manager_identity_client_id: '',
    };
    expect(settingsToRecord(recorded, outputs)).toEqual([]);
    expect(
      settingsToRecord(
        { ...recorded, identities: { workloadClientId: '00000000-0000-0000-0000-00000000dead' } },
        outputs,
      ),
    ).toEqual(['azure.identities.workloadClientId: 00000000-0000-0000-0000-0000000000b1']);
  });

  test('destroy without a terminal needs --yes --confirm <site>, and the name must match', async () => {
    const fake = await fakeTerraform({ changes: true });
    const env = onlyOnPath(fake.dir);
    const bare = await tier4(['site', 'destroy', 'demo', '-c', FIXTURE], { env });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('--yes --confirm demo');
    const yesOnly = await tier4(['site', 'destroy', 'demo', '-c', FIXTURE, '--yes'], { env });
    expect(yesOnly.code).toBe(2);
    const wrong = await tier4(
      ['site', 'destroy', 'demo', '-c', FIXTURE, '--yes', '--confirm', 'production'],
      { env },
    );
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('does not match the site name demo');
    expect(await calls(fake.log)).toEqual([]);
  });

  test('destroy --yes --confirm demo plans a destroy and applies it, warning about the vault name', async () => {
    const fake = await fakeTerraform({ changes: true });
    const result = await tier4(
      [
        'site',
        'destroy',
        'demo',
        '-c',
        FIXTURE,
        '--out',
        await tempDir('cli-out'),
        '--yes',
        '--confirm',
        'demo',
      ],
      { env: onlyOnPath(fake.dir) },
    );
    expect(result.code).toBe(0);
    const log = await calls(fake.log);
    expect(log[1]).toContain('plan -input=false -detailed-exitcode -out=tier4.tfplan -destroy');
    expect(log[2]).toContain('apply -input=false -no-color tier4.tfplan');
    expect(result.stderr).toContain('stays soft-deleted with purge protection for 90 days');
    expect(result.stdout).toContain('Destroyed the demo site.');
  });

  test('destroy is not blocked by a failing policy check: it reports it and goes on', async () => {
    const fake = await fakeTerraform({ changes: true });
    const weak = await fixtureWith((doc) =>
      doc.setIn(['sites', 'demo', 'azure', 'keyVault', 'purgeProtection'], false),
    );
    const result = await tier4(['site', 'destroy', 'demo', '-c', weak, '--yes', '--confirm', 'demo'], {
      env: onlyOnPath(fake.dir),
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('FAIL CKV_AZURE_110');
    expect((await calls(fake.log)).map((line) => line.split(' ')[1])).toEqual(['init', 'plan', 'apply']);
    // Purge protection is off here, so there is no vault-name warning.
    expect(result.stderr).not.toContain('stays soft-deleted');
  });
});
