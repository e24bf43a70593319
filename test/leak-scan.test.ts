import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { CAPTURE_DIR } from './support/capture.js';
import { LEAK_MARKER } from './support/secrets.js';

// Runs after every other test file (its project has a later groupOrder): scans all that the suite printed,
// through the CLI or the console, for the marker every test secret carries.
test('no test secret appears in anything the test suite printed', () => {
  expect(existsSync(CAPTURE_DIR), 'the suite captured its output').toBe(true);
  const files = readdirSync(CAPTURE_DIR);
  expect(files.length).toBeGreaterThan(0);
  let scannedBytes = 0;
  for (const file of files) {
    const text = readFileSync(join(CAPTURE_DIR, file), 'utf8');
    scannedBytes += text.length;
    const at = text.indexOf(LEAK_MARKER);
    expect(at, `a test secret leaked into ${file}: …${text.slice(Math.max(0, at - 80), at)}`).toBe(-1);
  }
  expect(scannedBytes).toBeGreaterThan(0);
});
