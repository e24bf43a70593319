import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from './support/cli.js';

const read = (file: string) => JSON.parse(readFileSync(join(REPO_ROOT, file), 'utf8'));

/**
 * `npm ci` refuses a lock that is out of sync with package.json (#17: the quickstart printed ~110 npm errors,
 * then ran `npm install` and left the lock modified). These are the conditions npm ci checks that a commit can
 * break: the lock's root lists exactly package.json's dependencies, each at a version the range accepts, and
 * every package has the integrity hash npm ci verifies.
 */
describe('package-lock.json', () => {
  const pkg = read('package.json');
  const lock = read('package-lock.json');

  test('lists exactly the dependencies of package.json', () => {
    expect(lock.lockfileVersion).toBe(3);
    const root = lock.packages[''];
    expect(root.dependencies ?? {}).toEqual(pkg.dependencies ?? {});
    expect(root.devDependencies ?? {}).toEqual(pkg.devDependencies ?? {});
  });

  test('locks each direct dependency at a version its range accepts', () => {
    for (const [name, range] of Object.entries<string>({ ...pkg.dependencies, ...pkg.devDependencies })) {
      const locked = lock.packages[`node_modules/${name}`]?.version as string | undefined;
      expect(locked, name).toBeDefined();
      if (/^\d+\.\d+\.\d+$/.test(range)) expect(locked, name).toBe(range);
      else {
        // ^a.b.c: same major, not older (the only other form package.json uses).
        const [major, ...rest] = range.replace(/^\^/, '').split('.').map(Number);
        const [lockedMajor, ...lockedRest] = locked!.split('.').map(Number);
        expect(range, name).toMatch(/^\^\d+\.\d+\.\d+$/);
        expect(lockedMajor, name).toBe(major);
        expect(lockedRest[0]! * 1e6 + lockedRest[1]!, name).toBeGreaterThanOrEqual(rest[0]! * 1e6 + rest[1]!);
      }
    }
  });

  test('every fetched package carries the integrity hash npm ci verifies', () => {
    const missing = Object.entries<{ resolved?: string; integrity?: string; link?: boolean }>(lock.packages)
      .filter(([path, entry]) => path !== '' && !entry.link && entry.resolved && !entry.integrity)
      .map(([path]) => path);
    expect(missing).toEqual([]);
  });
});
