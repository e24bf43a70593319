import { describe, expect, test } from 'vitest';
import { inOrder } from '../../backups/in-order.js';

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));
const failLater = (ms: number, message: string) =>
  new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message)), ms));

describe('inOrder', () => {
  test('gives every value in the order of the steps, however they finish', async () => {
    await expect(inOrder<[string, number]>([later(20, 'a'), later(1, 2)])).resolves.toEqual(['a', 2]);
  });

  test('throws the first failure in step order, not the first in time, and releases what opened', async () => {
    const released: unknown[] = [];
    const result = inOrder<[string, string, string]>(
      [later(5, 'opened'), failLater(30, 'first in order'), failLater(1, 'first in time')],
      async (value) => {
        released.push(value);
      },
    );
    await expect(result).rejects.toThrow('first in order');
    expect(released).toEqual(['opened']);
  });

  test('a step that opens after the failure is released when it opens; no unhandled rejection', async () => {
    const released: unknown[] = [];
    const slow = later(30, 'late');
    await expect(
      inOrder<[never, string, never]>([failLater(1, 'early'), slow, failLater(2, 'also')], async (value) => {
        released.push(value);
      }),
    ).rejects.toThrow('early');
    expect(released).toEqual([]);
    await slow;
    await later(1, undefined);
    expect(released).toEqual(['late']);
  });
});
