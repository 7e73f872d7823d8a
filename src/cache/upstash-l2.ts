/**
 * The routers' L2 on Upstash: one MGET per miss (value and epoch), one EVAL per write-back
 * (coherence.ts). Requests time out fast and are never retried, because L2 is an optimisation,
 * not a dependency: a failure is a miss, and a miss whose epoch could not be read writes nothing.
 */
import { Redis } from '@upstash/redis/cloudflare';
import { WRITE_IF_UNCHANGED } from './coherence.js';
import type { SharedCache } from '../tenancy/directory.js';

/** An Upstash-backed L2 whose every request is aborted after `timeoutMs`. */
export function upstashCache(url: string, token: string, timeoutMs = 500): SharedCache {
  // Auto-pipelining would batch nothing here and leaves a rejected batch unhandled when Redis is
  // down. The signal is a function: a fresh deadline per request, and with a function the client
  // rethrows the abort (with a fixed signal it turns an abort into a fake successful reply).
  const redis = new Redis({
    url, token, retry: false, automaticDeserialization: false, enableAutoPipelining: false,
    signal: () => AbortSignal.timeout(timeoutMs),
  });
  return {
    async read(key, epochKey) {
      const [value, epoch] = await redis.mget<(string | null)[]>(key, epochKey);
      return { value: value ?? null, epoch: epoch ?? '' };
    },
    async ping() {
      await redis.ping();
    },
    async writeIfUnchanged(key, epochKey, epoch, value, ttlSeconds) {
      const written = await redis.eval<string[], number>(WRITE_IF_UNCHANGED, [key, epochKey], [epoch, value, String(ttlSeconds)]);
      return Number(written) === 1;
    },
  };
}
