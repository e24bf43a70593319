import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Everything the test suite prints is also written here, for the leak scan. */
export const CAPTURE_DIR = join(import.meta.dirname, '..', '..', '.test-output');

export function captureOutput(file: string, text: string): void {
  mkdirSync(CAPTURE_DIR, { recursive: true });
  appendFileSync(join(CAPTURE_DIR, file), text);
}
