/**
 * A bounded in-isolate cache with per-entry expiry (the L1 of tenant lookups). Insertion order
 * doubles as recency: a hit re-inserts the entry, and the oldest entry is evicted at capacity,
 * so a flood of random hosts cannot grow an isolate's memory without bound.
 */
export class TtlCache<V> {
  private readonly map = new Map<string, { value: V; expires: number }>();

  constructor(private readonly capacity: number, private readonly now: () => number = Date.now) {
    if (capacity < 1) throw new Error('capacity must be at least 1');
  }

  /** The live entry for `key`, or undefined. */
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) { this.map.delete(key); return undefined; }
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** The live entry for `key` without refreshing its recency, or undefined. */
  peek(key: string): V | undefined {
    const e = this.map.get(key);
    return e && e.expires > this.now() ? e.value : undefined;
  }

  /** Stores `value` for `ttlMs` milliseconds; a TTL of zero or less stores nothing. */
  set(key: string, value: V, ttlMs: number): void {
    this.map.delete(key);
    // An entry born expired must not evict a live one.
    if (ttlMs <= 0) return;
    if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, { value, expires: this.now() + ttlMs });
  }

  /** Drops `key`. */
  delete(key: string): void { this.map.delete(key); }

  get size(): number { return this.map.size; }
}
