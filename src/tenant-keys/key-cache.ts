/**
 * The router's unwrapped tenant data keys, per isolate: at most `capacity` tenants, each entry for
 * at most `ttlMs`, and only for the tenant record it was unwrapped for. An entry remembers the
 * record's version and wrapped key; a record with another version (any change at the control
 * plane bumps it: a re-wrap, an erase's `deleting` mark) misses and replaces it. So the key lives
 * no longer than the tenant record that carried it, and never outlives an erase by more than
 * the record's own staleness bound (L1 TTL, docs/tenant-keys.md).
 *
 * Concurrent first uses of one tenant share one unwrap. Pure apart from the functions it is given.
 */
import { TtlCache } from '../cache/ttl-cache.js';

export interface KeyRecord { id: string; version: number; dataKey: string | null }

interface Entry { version: number; wrapped: string | null; key: Promise<CryptoKey> }

export class TenantKeyCache {
  private readonly entries: TtlCache<Entry>;

  constructor(private readonly opts: { capacity?: number; ttlMs?: number; now?: () => number } = {}) {
    this.entries = new TtlCache(opts.capacity ?? 1_000, opts.now);
  }

  /** The key of `t`, from the cache when it was made for this very record, else from `load`. */
  get(t: KeyRecord, load: () => Promise<CryptoKey>): Promise<CryptoKey> {
    const hit = this.entries.get(t.id);
    if (hit && hit.version === t.version && hit.wrapped === t.dataKey) return hit.key;
    const entry: Entry = { version: t.version, wrapped: t.dataKey, key: load() };
    this.entries.set(t.id, entry, this.opts.ttlMs ?? 300_000);
    // A failed unwrap is not remembered: the next request tries again (a ring deployed meanwhile).
    entry.key.catch(() => { if (this.entries.peek(t.id) === entry) this.entries.delete(t.id); });
    return entry.key;
  }

  /** Drops `tenantId`'s key from this isolate. */
  forget(tenantId: string): void { this.entries.delete(tenantId); }
}
