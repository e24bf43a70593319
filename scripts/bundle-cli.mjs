// Second step of `npm run build` (after tsc): bundles the CLI entry into dist/cli/main.js with esbuild, so a
// command loads a few files instead of several hundred modules (ADR 0016). Code splitting keeps every
// `import()` lazy: a command's code and the packages only it needs sit in chunks (dist/cli/chunks/) that load
// when it runs. The packages in INLINE are bundled (they are plain JS that reads no files of its own); every
// other package stays an ordinary import from node_modules, loaded when the code that needs it runs.
// Then the same entry again as one CommonJS script with a V8 code cache, which every command but `--help` and
// `--version` runs from (ADR 0017, bin/script-cli.js).
// Run it on its own after tsc: `node scripts/bundle-cli.mjs`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'dist', 'cli');
const CHUNKS = 'chunks';
const SCRIPT_DIR = join(OUT_DIR, 'script');

/**
 * Packages bundled into the CLI, with the packages they import: what `--help`, `config validate` and
 * `site render` load at start (kubernetes-models: the schema check's validators, charts/primero/schema-check.ts).
 */
export const INLINE = new Set(['commander', 'kubernetes-models', 'yaml', 'zod']);

/** The package a bare specifier names: `@scope/name/deep/path` → `@scope/name`. */
function packageOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * zod's `z` and `z.core` namespaces re-export every locale (about 40, most of its size); the CLI reads none of
 * them (zod's schemas load English, the default, themselves: v4/classic/schemas.js). Dropping those two
 * re-exports lets the bundle leave them out.
 */
const zodWithoutLocales = {
  name: 'zod-without-locales',
  setup(b) {
    b.onLoad(
      { filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index)\.js$/ },
      async (args) => {
        const text = await readFile(args.path, 'utf8');
        const line = 'export * as locales from "../locales/index.js";';
        if (!text.includes(line))
          throw new Error(`${args.path}: no locales re-export to drop (zod changed?)`);
        return { contents: text.replace(line, ''), loader: 'js', resolveDir: dirname(args.path) };
      },
    );
  },
};

/** An INLINE package is bundled, and so are its own dependencies (an external one is never read here). */
function bundledOrExternal(args) {
  if (args.path.startsWith('node:')) return { external: true };
  const fromPackage = args.importer.includes('/node_modules/');
  return fromPackage || INLINE.has(packageOf(args.path)) ? undefined : { external: true };
}

await rm(join(OUT_DIR, CHUNKS), { recursive: true, force: true });
await mkdir(OUT_DIR, { recursive: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { main: 'cli/main.ts' },
  outdir: OUT_DIR,
  chunkNames: `${CHUNKS}/[name]-[hash]`,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  tsconfig: 'tsconfig.json',
  sourcemap: 'linked',
  allowOverwrite: true, // tsc wrote dist/cli/main.js first; the bundle replaces it
  metafile: true,
  logLevel: 'warning',
  // Bundled CommonJS (commander) calls require() for Node's built-ins: give the ES module chunks one.
  banner: {
    js: "import { createRequire as __tier4Require } from 'node:module'; const require = __tier4Require(import.meta.url);",
  },
  plugins: [
    zodWithoutLocales,
    {
      name: 'tier4-externals',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          // The sources' own `import()` of a bundled package goes through a module naming its exports (below).
          if (
            args.kind === 'dynamic-import' &&
            args.namespace !== 'tier4-esm' &&
            INLINE.has(packageOf(args.path))
          )
            return { path: args.path, namespace: 'tier4-esm' };
          return bundledOrExternal(args);
        });
        // `await import('yaml')`: yaml is CommonJS, and a split ES module chunk of a CommonJS package exports only
        // `default`, where Node gives its named exports too. This module names them, as Node finds them.
        b.onLoad({ filter: /.*/, namespace: 'tier4-esm' }, async (args) => {
          const names = Object.keys(await import(args.path));
          const named = names.filter((name) => name !== 'default');
          const from = JSON.stringify(args.path);
          const lines = [`import * as all from ${from};`, `export const { ${named.join(', ')} } = all;`];
          if (names.includes('default')) lines.push('export default all.default;');
          return {
            contents: `${lines.join('\n')}\n`,
            resolveDir: ROOT,
            loader: 'js',
          };
        });
      },
    },
  ],
});

// Which sources each output file holds, for test/cli.test.ts: it checks what `--help` loads through the
// chunks it imports, as it did through the modules before there was a bundle.
const contents = {};
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  if (!file.endsWith('.js')) continue;
  contents[file.slice('dist/cli/'.length)] = Object.keys(output.inputs).sort();
}
await writeFile(join(OUT_DIR, 'bundle-contents.json'), `${JSON.stringify(contents, null, 1)}\n`);

// The script (ADR 0017): the same entry and packages as one CommonJS file, which node:vm compiles with a code
// cache. vm.Script has no import() in Node 20 without --experimental-vm-modules, so every import() becomes a
// require() in a promise: lazy as before (esbuild runs a module reached by import() on first use), and an
// external ES module loads through require() (Node 20.19+, package.json's engines:
// https://nodejs.org/docs/latest-v20.x/api/modules.html#loading-ecmascript-modules-using-require).
await rm(SCRIPT_DIR, { recursive: true, force: true });
await mkdir(SCRIPT_DIR, { recursive: true });
const script = await build({
  absWorkingDir: ROOT,
  entryPoints: ['cli/main.ts'],
  outfile: join(SCRIPT_DIR, 'tier4.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  supported: { 'dynamic-import': false },
  // Without comments (licence notices go to tier4.cjs.LEGAL.txt) the text is ASCII, esbuild's default charset
  // for code: V8 holds and scans it as one byte a character, and the loader reads it without UTF-8 decoding.
  minifyWhitespace: true,
  legalComments: 'linked',
  tsconfig: 'tsconfig.json',
  sourcemap: 'linked',
  write: false,
  logLevel: 'warning',
  // core/package-info.ts finds the package from its own URL: here the script's.
  define: { 'import.meta.url': '__tier4ImportMetaUrl' },
  banner: { js: "const __tier4ImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [
    zodWithoutLocales,
    { name: 'tier4-script-externals', setup: (b) => b.onResolve({ filter: /^[^./]/ }, bundledOrExternal) },
  ],
});
for (const file of script.outputFiles) {
  let text = file.text;
  if (file.path.endsWith('.cjs')) {
    if (/[^\x00-\x7f]/.test(text))
      throw new Error(`${file.path}: not ASCII (bin/script-cli.js reads it as latin1)`);
    // The last line names the build, and so the code cache that belongs to exactly this text.
    text += `// tier4-build ${createHash('sha256').update(text).digest('hex').slice(0, 16)}\n`;
  }
  await writeFile(file.path, text);
}
// The code cache: the script run through the commands the start-up targets name (issue #16), in a process of
// its own with node's default flags (V8 rejects a cache made under other flags).
execFileSync(process.execPath, [join(ROOT, 'scripts', 'train-cli-cache.mjs')], { stdio: 'inherit' });
