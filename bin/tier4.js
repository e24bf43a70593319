#!/usr/bin/env node
// Launcher: the compiled CLI when it is built and current (fast start), else the TypeScript sources through
// tsx, so `npx tier4` works right after `npm ci` and a `git pull` never runs stale code.
// TIER4_FROM_SOURCE=1 forces the sources.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const compiled = new URL('dist/cli/main.js', root);

/** Newest modification time of the .ts sources that tsc compiles (tsconfig.json's include); 0 if none. */
function newestSource() {
  let include = [];
  try {
    include = JSON.parse(readFileSync(new URL('tsconfig.json', root), 'utf8')).include ?? [];
  } catch {
    return 0; // an installed package ships dist/ without sources
  }
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of include) walk(new URL(dir, root).pathname);
  return newest;
}

/** Stale when a source is newer than the build. A checkout, pull or `git add` rewrites .git/index, so the walk
 * over the sources runs only when the index is newer than the build: one stat on the usual path. */
function isStale() {
  const builtAt = statSync(compiled).mtimeMs;
  const index = gitIndex();
  if (index && existsSync(index) && statSync(index).mtimeMs <= builtAt) return false;
  return newestSource() > builtAt;
}

/** .git/index, or in a `git worktree` checkout (where .git is a file "gitdir: <path>") that worktree's index. */
function gitIndex() {
  const dotGit = new URL('.git', root);
  try {
    if (statSync(dotGit).isDirectory()) return new URL('.git/index', root);
    const gitdir = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim();
    return gitdir ? new URL(`${gitdir.replace(/\/$/, '')}/index`, new URL('./', dotGit)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The built CLI (ADR 0016, 0017): `--help` and `--version` need only commander and the command list, which the
 * ES module bundle (dist/cli/main.js) loads fastest; every command runs from the CommonJS script with its V8
 * code cache (bin/script-cli.js), which compiles next to nothing at start. Both are built from cli/main.ts.
 */
async function compiledCli(args) {
  const light = args.length === 0 || (args.length === 1 && LIGHT_ARGS.has(args[0]));
  const script = new URL('dist/cli/script/', root);
  if (light || !isCurrentScript(new URL('tier4.cjs', script))) return import(compiled.href);
  const { loadScriptCli } = await import('./script-cli.js');
  return loadScriptCli(script).cli;
}

/** The build writes the script after dist/cli/main.js; a bare `tsc` rewrites main.js and leaves it older. */
function isCurrentScript(file) {
  try {
    return statSync(file).mtimeMs >= statSync(compiled).mtimeMs;
  } catch {
    return false;
  }
}
const LIGHT_ARGS = new Set(['--help', '-h', '--version', '-V']);

// The AWS SDK warns on every s3:// command that its releases after January 2027 need Node 22; our supported
// range is package.json's engines. Its documented opt-out (@aws-sdk/core emitWarningIfUnsupportedVersion reads
// AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED), set for this process only, keeps the output clean.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let useCompiled = existsSync(compiled) && !process.env.TIER4_FROM_SOURCE;
if (useCompiled && isStale()) {
  useCompiled = false;
  process.stderr.write(
    'tier4: dist/ is older than the sources (after a git pull?): running the sources, which starts slower.\n' +
      'hint: run `npm run build` to start fast again.\n',
  );
}
const args = process.argv.slice(2);
let cli;
if (useCompiled) {
  cli = await compiledCli(args);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('cli/main.ts', root).href);
}

// First Ctrl-C asks the running command to stop and clean up; a second one leaves at once.
const controller = new AbortController();
const onSignal = (signal) => {
  if (controller.signal.aborted) process.exit(130);
  process.stderr.write(`\n${signal}: stopping and cleaning up (press Ctrl-C again to leave at once)\n`);
  controller.abort(new Error(`interrupted by ${signal}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await cli.runCli(args, cli.processIo(), controller.signal);
process.exitCode = controller.signal.aborted && code !== 2 ? 130 : code;
process.removeListener('SIGINT', onSignal);
process.removeListener('SIGTERM', onSignal);
// Leave even if a library keeps a handle open; the timer is unref'd so it never delays a clean exit.
setTimeout(() => process.exit(process.exitCode), 200).unref();
