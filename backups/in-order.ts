/**
 * Steps that were started together, awaited in the order they would have run one after another: the first
 * failure in that order is the one thrown (so a backup fails with the same message as when they ran in turn),
 * and as soon as it is known. Whatever the other steps opened is handed to `release`, now or when it opens.
 */
export async function inOrder<T extends readonly unknown[]>(
  steps: { readonly [K in keyof T]: Promise<T[K]> },
  release: (value: T[number]) => Promise<unknown> = async () => undefined,
): Promise<T> {
  // Marked as handled at once: a later step failing while an earlier one runs is not an unhandled rejection.
  for (const step of steps) step.catch(() => undefined);
  const values: unknown[] = [];
  for (const [index, step] of steps.entries()) {
    try {
      values.push(await step);
    } catch (error) {
      for (const value of values) await release(value as T[number]).catch(() => undefined);
      for (const later of steps.slice(index + 1))
        later.then(
          (value) => release(value).catch(() => undefined),
          () => undefined,
        );
      throw error;
    }
  }
  return values as unknown as T;
}
