/**
 * Cache coherence: every change to a tenant bumps its version and invalidates its L2 entries (all
 * lookup kinds, old and new values): one script per batch replaces each key's epoch and deletes
 * its value (src/cache/coherence.ts), so no router write-back racing the change can put the old
 * record back, and routers serve the change when their L1 entry expires (TENANT_CACHE_TTL_MS, 5 s
 * by default). Negative entries go too: a tenant created for a host someone probed a moment ago
 * is served once L1 expires.
 *
 * One attempt per call, aborted after a timeout: a failure is the outbox's to retry (outbox.ts),
 * never a loop here.
 */
import { Redis } from '@upstash/redis/cloudflare';
import { EPOCH_TTL_SECONDS, INVALIDATE } from '../cache/coherence.js';
import { cacheKey, epochKey, type LookupKey } from '../tenancy/tenant.js';

export interface CacheInvalidator {
  invalidate(keys: LookupKey[]): Promise<void>;
  /** Deletes keys and their epochs outright (a purged tenant leaves no key behind); optional for fakes. */
  forget?(keys: LookupKey[]): Promise<void>;
  /** Whether the cache answers (readiness); absent when there is no cache. */
  ping?(): Promise<void>;
}

/** Lookup keys per script call: keeps each request small when a template change touches many tenants. */
const BATCH = 250;

/**
 * The key format routers read before tenant:v2 (no epochs). Deleted as well while routers of the
 * previous release may still run; remove once they are gone.
 */
const legacyKey = (k: LookupKey) => `tenant:v1:${k.kind}:${k.value}`;

/** Invalidates keys in the routers' Upstash L2; each request is aborted after `timeoutMs`. */
export function upstashInvalidator(url: string, token: string, timeoutMs = 2000): CacheInvalidator {
  // A signal function gives each request its own deadline, and makes the client rethrow the abort.
  const redis = new Redis({
    url, token, retry: false, automaticDeserialization: false, enableAutoPipelining: false,
    signal: () => AbortSignal.timeout(timeoutMs),
  });
  return {
    async ping() {
      await redis.ping();
    },
    async invalidate(keys) {
      const distinct = [...new Map(keys.map((k) => [cacheKey(k), k])).values()];
      for (let i = 0; i < distinct.length; i += BATCH) {
        const batch = distinct.slice(i, i + BATCH);
        const scriptKeys = [...batch.flatMap((k) => [cacheKey(k), epochKey(k)]), ...batch.map(legacyKey)];
        await redis.eval(INVALIDATE, scriptKeys, [crypto.randomUUID(), String(EPOCH_TTL_SECONDS), String(batch.length)]);
      }
    },
    // Only once no router can still be reading the keys (a purge, long after the last change):
    // without an epoch a racing write-back could otherwise land.
    async forget(keys) {
      const all = [...new Set(keys.flatMap((k) => [cacheKey(k), epochKey(k), legacyKey(k)]))];
      for (let i = 0; i < all.length; i += BATCH) await redis.del(...all.slice(i, i + BATCH));
    },
  };
}

/** No L2 configured: routers hold tenants for the L1 TTL only. */
export const noCache: CacheInvalidator = { invalidate: async () => {} };
