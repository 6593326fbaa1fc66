/**
 * Bounded concurrency for many small I/O operations. On this kind of machine, 16 async file
 * writes in flight run ~8× faster than a synchronous loop (BENCHMARKS.md): the virtual disk's
 * latency is hidden and both cores work.
 * @module
 */

/** Default number of operations in flight. */
export const IO_CONCURRENCY = 16;

/**
 * Maps `items` through `fn` with at most `limit` calls in flight; results keep input order.
 *
 * @example
 * ```ts
 * const sizes = await mapConcurrent(paths, 16, async (path) => (await stat(path)).size);
 * ```
 */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
