/** A bounded worker pool that can be told to stop taking work (pure: no I/O of its own). */

/**
 * Runs `work` over `items` with at most `limit` in flight. Once `stopped()` is true no new item
 * starts, but the ones in flight finish; returns how many items were started.
 */
export async function runPool<T>(items: readonly T[], limit: number, stopped: () => boolean, work: (item: T) => Promise<void>): Promise<number> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error('pool limit must be a positive integer');
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stopped()) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return next;
}
