import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The toolkit's own folder, found from this module whether it runs from source or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'primero-tier4')
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the primero-tier4 package root');
    dir = parent;
  }
}

let cachedVersion: string | undefined;

export function toolVersion(): string {
  cachedVersion ??= JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version as string;
  return cachedVersion;
}
