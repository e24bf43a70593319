import { describe, expect, test } from 'vitest';
import { backupSite } from '../support/backup-site.js';
import { spawnTier4 } from '../support/cli.js';
import { startS3rver } from '../support/storage-servers.js';

describe('an s3:// command on a supported Node', () => {
  test("prints no AWS SDK Node-version warning (bin/tier4.js sets the SDK's opt-out for itself)", async () => {
    const s3 = await startS3rver(['nodewarn']);
    try {
      const site = await backupSite({
        cases: 2,
        blobs: 1,
        repository: { kind: 's3', endpoint: s3.endpoint, bucket: 'nodewarn' },
      });
      const result = await spawnTier4(['-c', site.configPath, 'backup', 'create'], {
        env: { ...site.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined },
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
    } finally {
      await s3.stop();
    }
  }, 60_000);
});
