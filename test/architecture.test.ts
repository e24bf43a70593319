import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from './support/cli.js';
import { boundaryViolations, importEdges, mayImport } from './support/import-graph.js';

/**
 * Boundaries that hold (#19): a feature (a top-level folder: backups, drills, certs, promotion, primero-api,
 * doctor, charts, stacks, rehearsal, runbooks…) imports its own files, `core/`, and other features only
 * through their `index.ts`. `cli/` is held to the same rule: commands import features' `index.ts`. `core/`
 * imports only `core/`; nothing imports `cli/`. Every import counts: static, type-only, re-export, `import()`.
 * There are no exceptions: what two areas share lives in core/ (e.g. core/azure-names.ts for the chart and
 * the demo stack), and light commands load the backups barrel like the others (its SDKs load on demand).
 */

describe('import boundaries', () => {
  test('features and the CLI import core/ and other features through index.ts only', () => {
    const violations = boundaryViolations(importEdges(REPO_ROOT));
    const fresh = [...violations].map(
      ([edge, lines]) =>
        `${edge} (line ${lines.join(', ')}): import from its index.ts, exporting what is needed there`,
    );
    expect(fresh, 'imports that reach into another area').toEqual([]);
  });

  test('the rule names a feature reaching into another, core reaching out, and anything importing the CLI', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tier4-boundaries-'));
    const files: Record<string, string> = {
      'backups/index.ts': "export { layout } from './layout.js';\n",
      'backups/layout.ts': 'export const layout = 1;\n',
      // Allowed: its own files, core/, another feature's index.ts (also as a type, or dynamically).
      'drills/store.ts': "import { layout } from '../backups/index.js';\nimport { x } from '../core/x.js';\n",
      'drills/report.ts':
        "import type { Y } from './store.js';\nconst b = await import('../backups/index.js');\n",
      // Violations: a feature's internals (as a type, or in a multi-line or dynamic import).
      'drills/run.ts': "import type { Layout } from '../backups/layout.js';\n",
      'doctor/run.ts':
        "import {\n  layout,\n} from '../backups/layout.js';\nawait import('../drills/store.js');\n",
      'core/x.ts': "export { layout } from '../backups/index.js';\n",
      'backups/progress.ts': "import { out } from '../cli/output.js';\n",
      'cli/output.ts': "export const out = 1;\nimport '../backups/layout.js';\n",
      // Not sources: tests may import anything.
      'test/x.test.ts': "import { layout } from '../backups/layout.js';\n",
    };
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), text);
    }
    expect(Object.fromEntries(boundaryViolations(importEdges(root)))).toEqual({
      'backups/progress.ts -> cli/output.ts': [1],
      'cli/output.ts -> backups/layout.ts': [2],
      'core/x.ts -> backups/index.ts': [1],
      'doctor/run.ts -> backups/layout.ts': [3],
      'doctor/run.ts -> drills/store.ts': [4],
      'drills/run.ts -> backups/layout.ts': [1],
    });
    expect(mayImport('promotion/apply.ts', 'primero-api/index.ts')).toBe(true);
    expect(mayImport('promotion/apply.ts', 'primero-api/client.ts')).toBe(false);
  });
});
