import { rmSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { startPostgres } from '../../rehearsal/postgres-server.js';
import { CAPTURE_DIR } from './capture.js';
import { testSecret } from './secrets.js';

export interface PgInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  binDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    pg: PgInfo;
  }
}

/** One throwaway PostgreSQL 15 for the whole run; tests create their own databases in it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  rmSync(CAPTURE_DIR, { recursive: true, force: true });
  const server = await startPostgres({ password: testSecret('pg-superuser') });
  project.provide('pg', {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    binDir: server.binDir,
  });
  return async () => {
    await server.stop();
  };
}
