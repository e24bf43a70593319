import { randomBytes } from 'node:crypto';

/**
 * Every secret the test suite uses carries this marker. The leak scan (test/leak-scan.test.ts)
 * fails when the marker appears in anything the suite printed.
 */
export const LEAK_MARKER = 'T4LEAK';

export function testSecret(label: string): string {
  return `${LEAK_MARKER}-${label}-${randomBytes(9).toString('hex')}`;
}
