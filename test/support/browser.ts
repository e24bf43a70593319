import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/**
 * Debian's chromium (installed by .ci/run), driven by playwright-core without its own browser download.
 * /usr/bin/chromium is Debian's launcher script; the binary behind it is used if the script is missing.
 * As root, Chromium refuses to start without --no-sandbox.
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const executablePath =
    process.env.TIER4_CHROMIUM ??
    ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find((path) => existsSync(path));
  if (!executablePath) throw new Error('chromium is not installed: run .ci/run, or apt-get install chromium');
  return chromium.launch({
    executablePath,
    headless: true,
    timeout: 30_000,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
}
