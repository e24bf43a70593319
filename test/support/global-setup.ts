import { existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
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

const ROOT = join(import.meta.dirname, '..', '..');
/** The folders tsc compiles, as tsconfig.json lists them. */
const SOURCE_DIRS: string[] = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).include;

function newestSourceTime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceTime(path));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.md'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Tests that spawn bin/tier4.js run dist/: rebuild it when a source file is newer (e.g. vitest run on its own). */
async function ensureFreshBuild(root: string): Promise<void> {
  const built = join(root, 'dist', 'cli', 'main.js');
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  const sourcesAt = Math.max(...SOURCE_DIRS.map((dir) => newestSourceTime(join(root, dir))));
  if (sourcesAt > builtAt) {
    // `npm run build`'s two steps: tsc, then the CLI bundle (scripts/bundle-cli.mjs, ADR 0016).
    await execa(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], {
      cwd: root,
      reject: false,
    });
    await execa(process.execPath, [join(root, 'scripts', 'bundle-cli.mjs')], { cwd: root });
  }
}

/**
 * Under Stryker (vitest.mutate.config.ts sets TIER4_DIST_FROM to the project outside its sandbox) the CLI tests
 * run the project's own dist/: a build of the mutated sandbox would cost a minute per run and could not kill a
 * mutant anyway (the spawned CLI never sees the active mutant).
 */
async function prepareDist(): Promise<void> {
  const from = process.env.TIER4_DIST_FROM;
  if (!from) return ensureFreshBuild(ROOT);
  await ensureFreshBuild(from);
  if (!existsSync(join(ROOT, 'dist'))) symlinkSync(join(from, 'dist'), join(ROOT, 'dist'), 'dir');
}

/** One throwaway PostgreSQL 15 for the whole run; tests create their own databases in it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  rmSync(CAPTURE_DIR, { recursive: true, force: true });
  await prepareDist();
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
