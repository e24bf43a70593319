import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { inject } from 'vitest';
import {
  buildPrimeroDatabase,
  connect,
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

/** A connection to a database of the suite's server, through the product's connector. */
export function connectTestDatabase(database: string): Promise<pg.Client> {
  const info = pgInfo();
  return connect({ host: info.host, port: info.port, user: info.user, password: info.password }, database);
}

/** One query against a database of the suite's server, on a connection of its own. */
export async function queryDatabase<R extends pg.QueryResultRow = Record<string, unknown>>(
  database: string,
  sql: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = await connectTestDatabase(database);
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
