#!/usr/bin/env node
// Launcher: the compiled CLI when it has been built (fast start), else the TypeScript sources through tsx,
// so `npx tier4` works right after `npm ci`. TIER4_FROM_SOURCE=1 forces the sources.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
let cli;
if (existsSync(compiled) && !process.env.TIER4_FROM_SOURCE) {
  cli = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('../cli/main.ts', import.meta.url).href);
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

const code = await cli.runCli(process.argv.slice(2), cli.processIo(), controller.signal);
process.exitCode = controller.signal.aborted && code === 0 ? 130 : code;
process.removeListener('SIGINT', onSignal);
process.removeListener('SIGTERM', onSignal);
// Leave even if a library keeps a handle open; the timer is unref'd so it never delays a clean exit.
setTimeout(() => process.exit(process.exitCode), 200).unref();
