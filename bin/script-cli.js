// The compiled CLI as one CommonJS script run through node:vm with a V8 code cache (ADR 0017). Node 20 caches
// no compiled code between runs of an ES module (module.enableCompileCache is Node 22.1+), but vm.Script takes a
// code cache (`cachedData`) and writes one (`script.createCachedData()`), functions compiled while it ran
// included: https://nodejs.org/docs/latest-v20.x/api/vm.html#new-vmscriptcode-options and
// #scriptcreatecacheddata. V8 rejects a cache made by another V8 version or with other flags
// (`script.cachedDataRejected`); the script then compiles as usual, only slower.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

/** The script's last line names its build (a hash of the rest), which names its code cache. */
const BUILD_LINE = /\n\/\/ tier4-build ([0-9a-f]{16})\n?$/;

/** dist/cli/script: the script and, beside it, the code cache of its build. */
export function scriptPaths(dir, source) {
  const build = BUILD_LINE.exec(source)?.[1];
  return { script: join(dir, 'tier4.cjs'), cache: build ? join(dir, `tier4-${build}.cache`) : undefined };
}

/**
 * Compiles and runs tier4.cjs in `scriptDir` (a path or file URL; the build's is dist/cli/script), with its code
 * cache unless `useCache` is false. Returns its exports (runCli, processIo), the vm.Script (to write a cache
 * from), the cache's path, and whether V8 took the cache.
 */
export function loadScriptCli(scriptDir, { useCache = true } = {}) {
  const dir = scriptDir instanceof URL ? fileURLToPath(scriptDir) : resolve(scriptDir);
  const file = join(dir, 'tier4.cjs');
  // ASCII (the build checks): latin1 reads it as UTF-8 would, without decoding 2.7 MB.
  const source = readFileSync(file, 'latin1');
  const { cache } = scriptPaths(dir, source);
  let cachedData;
  if (useCache && cache) {
    try {
      cachedData = readFileSync(cache);
    } catch {
      // No cache (a build that could not write one): compile from the source.
    }
  }
  // The CommonJS wrapper on the first line, so the script's line numbers are its file's.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
  });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dir);
  return {
    cli: module.exports,
    script,
    cache,
    cacheAccepted: cachedData !== undefined && !script.cachedDataRejected,
  };
}
