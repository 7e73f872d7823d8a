/**
 * Cache coherence: every change to a tenant bumps its version and deletes its L2 entries (all
 * lookup kinds, old and new values), so routers see the change when their L1 entry expires
 * (TENANT_CACHE_TTL_MS, 5 s by default). Negative entries go too: a tenant created for a host
 * someone probed a moment ago is served at once once L1 expires.
 */
import { Redis } from '@upstash/redis/cloudflare';
import { cacheKey, type LookupKey } from '../tenancy/tenant.js';

export interface CacheInvalidator { invalidate(keys: LookupKey[]): Promise<void> }

/** Deletes keys from the routers' Upstash L2. */
export function upstashInvalidator(url: string, token: string): CacheInvalidator {
  const redis = new Redis({ url, token, retry: { retries: 2 }, automaticDeserialization: false, enableAutoPipelining: false });
  return {
    async invalidate(keys) {
      if (keys.length === 0) return;
      await redis.del(...new Set(keys.map(cacheKey)));
    },
  };
}

/** No L2 configured: routers hold tenants for the L1 TTL only. */
export const noCache: CacheInvalidator = { invalidate: async () => {} };
