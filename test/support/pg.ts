import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import {
  buildPrimeroDatabase,
  type PrimeroDbOptions,
  type PrimeroDbResult,
} from '../../rehearsal/primero-db.js';

export function pgInfo() {
  return inject('pg');
}

export function uniqueDatabaseName(prefix = 't'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** A fresh Primero-shaped database in the suite's PostgreSQL server. */
export async function primeroDatabase(
  options: Omit<PrimeroDbOptions, 'connection' | 'database'> & { database?: string } = {},
): Promise<PrimeroDbResult> {
  const pg = pgInfo();
  return buildPrimeroDatabase({
    ...options,
    database: options.database ?? uniqueDatabaseName('primero'),
    connection: { host: pg.host, port: pg.port, user: pg.user, password: pg.password },
  });
}
