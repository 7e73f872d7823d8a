/**
 * The router as deployed, plus one bench-only route that reads a TenantGuard's call counters.
 * With BENCH_LIMITER=upstash the TenantGuard is replaced by @upstash/ratelimit (sliding window)
 * against the same local Redis, through the Upstash endpoint.
 */
import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis/cloudflare';
import { Hono } from 'hono';
import { buildRouter } from '../../workers/router/index.js';
import type { Env } from '../../src/env.js';
import { guardLimits, guardStub, type RateLimiter } from '../../src/quota/rate-limiter.js';
import { routerServices, type Services } from '../../src/services.js';

export { TenantGuard } from '../../src/quota/tenant-guard.js';
export { CircuitBreaker } from '../../src/breaker/circuit-breaker.js';

type BenchEnv = Env & { BENCH_LIMITER?: string };

/** @upstash/ratelimit behind the RateLimiter interface (no concurrency leases: it has none). */
function upstashLimiter(env: BenchEnv): RateLimiter {
  const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL!, token: env.UPSTASH_REDIS_REST_TOKEN! });
  const limiters = new Map<string, Ratelimit>();
  return {
    async admit(tenant, cost) {
      const l = guardLimits(tenant.tier);
      let rl = limiters.get(tenant.id);
      if (!rl) {
        rl = new Ratelimit({ redis, limiter: Ratelimit.slidingWindow(l.burst, '60 s'), prefix: `rl:${tenant.id}`, ephemeralCache: false });
        limiters.set(tenant.id, rl);
      }
      const r = await rl.limit(tenant.id, { rate: cost });
      return { ok: r.success, reason: r.success ? undefined : 'RATE_LIMITED', limit: r.limit, remaining: r.remaining, resetMs: Math.max(0, r.reset - Date.now()), retryAfterMs: Math.max(1000, r.reset - Date.now()) };
    },
    async release() {},
  };
}

const built = new WeakMap<object, Services>();
function services(env: BenchEnv): Services {
  let s = built.get(env);
  if (!s) {
    const base = routerServices(env);
    s = env.BENCH_LIMITER === 'upstash' ? { ...base, limiter: upstashLimiter(env) } : base;
    built.set(env, s);
  }
  return s;
}

const bench = new Hono<{ Bindings: BenchEnv }>();
bench.get('/__bench/guard-stats/:tenantId', async (c) =>
  c.json(await guardStub(c.env.TENANT_GUARD, { id: c.req.param('tenantId'), guardJurisdiction: 'global' }, false).stats()));
bench.route('/', buildRouter(services));

export default bench;
