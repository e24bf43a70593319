import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { clientConfig } from '../../core/postgres/connection.js';
import { testSecret } from '../support/secrets.js';

/** node-postgres finds the root certificate as libpq does: the URL's sslrootcert, else PGSSLROOTCERT. */
describe('clientConfig and the database CA', () => {
  test('PGSSLROOTCERT (set in the ops pods) is trusted for verify-full; the URL sslrootcert wins', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tier4-ca-'));
    await writeFile(join(dir, 'env.crt'), 'ENV CA');
    await writeFile(join(dir, 'url.crt'), 'URL CA');
    const password = testSecret('db');
    const url = 'postgres://primero@primero-db-rw.primero.svc:5432/primero_production?sslmode=verify-full';
    const fromEnv = clientConfig({ url, password }, { PGSSLROOTCERT: join(dir, 'env.crt') });
    expect(fromEnv.ssl).toMatchObject({ rejectUnauthorized: true, ca: 'ENV CA' });
    const fromUrl = clientConfig(
      { url: `${url}&sslrootcert=${encodeURIComponent(join(dir, 'url.crt'))}`, password },
      { PGSSLROOTCERT: join(dir, 'env.crt') },
    );
    expect(fromUrl.ssl).toMatchObject({ ca: 'URL CA' });
    expect(clientConfig({ url, password }, {}).ssl).not.toHaveProperty('ca');
  });
});
