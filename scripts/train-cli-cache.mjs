// Last step of `npm run build` (run by scripts/bundle-cli.mjs in a process of its own, so V8's flags are node's
// defaults, as when tier4 runs): runs dist/cli/script/tier4.cjs through the commands issue #16 times at start
// (`config validate`, `site render`) on the example configuration, then writes the V8 code cache of everything
// compiled meanwhile beside the script (ADR 0017). A function no command here ran compiles when first called.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScriptCli } from '../bin/script-cli.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(ROOT, 'dist', 'cli', 'script');
const { cli, script, cache } = loadScriptCli(dir, { useCache: false });
const work = mkdtempSync(join(tmpdir(), 'tier4-train-'));
const example = join(ROOT, 'examples', 'tier4.example.yaml');
const discard = { write: () => true };
const io = { stdout: discard, stderr: discard, env: {}, cwd: work };
// The example's placeholder recipients make `config validate` exit 1, after every other check has run.
const runs = [
  { args: ['-c', example, 'config', 'validate'], expect: [0, 1] },
  { args: ['-c', example, 'site', 'render', 'production', '--out', join(work, 'render')], expect: [0] },
];
try {
  for (const { args, expect } of runs) {
    const code = await cli.runCli(args, io);
    if (!expect.includes(code)) throw new Error(`tier4 ${args.join(' ')} exited ${code} while training`);
  }
  writeFileSync(cache, script.createCachedData());
} finally {
  rmSync(work, { recursive: true, force: true });
}
// A library may keep a handle open (as bin/tier4.js allows for): the cache is written, so leave.
process.exit(0);
