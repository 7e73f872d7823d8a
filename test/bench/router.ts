/**
 * The router as deployed, plus bench-only routes: a TenantGuard's call counters, and a loop of
 * limiter decisions timed from outside. BENCH_LIMITER swaps the TenantGuard for another limiter
 * behind the same RateLimiter interface:
 * - `upstash`: @upstash/ratelimit (sliding window) against the same local Redis, through the
 *   Upstash REST stand-in;
 * - `cloudflare`: Cloudflare's Rate Limiting binding (`RATE_LIMITER`, wrangler.router.toml),
 *   which wrangler dev simulates in the isolate.
 */
import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis/cloudflare';
import { Hono } from 'hono';
import { buildRouter } from '../../workers/router/index.js';
import type { Env } from '../../src/env.js';
import { guardLimits, guardStub, type RateLimiter } from '../../src/quota/rate-limiter.js';
import { routerServices, type Services } from '../../src/services.js';
import { TokenVerifier } from '../../src/auth/token-verifier.js';
import type { Tenant } from '../../src/tenancy/tenant.js';

export { TenantGuard } from '../../src/quota/tenant-guard.js';
export { CircuitBreaker } from '../../src/breaker/circuit-breaker.js';

interface RateLimitBinding { limit(o: { key: string }): Promise<{ success: boolean }> }
/**
 * Ablations for "where the time goes": BENCH_TOKEN_CACHE=off verifies every token in full (no
 * verified-token cache), BENCH_ACCESS_LOG=off writes no access-log line, BENCH_ACCESS_LOG=sink builds
 * the line and drops it (its cost without wrangler dev's console, which ships each console.log over
 * the inspector to wrangler's Node process).
 */
type BenchEnv = Env & { BENCH_LIMITER?: string; BENCH_TOKEN_CACHE?: string; BENCH_ACCESS_LOG?: string; RATE_LIMITER?: RateLimitBinding };

/**
 * @upstash/ratelimit behind the RateLimiter interface (no concurrency leases: it has none), with
 * the client's defaults as Upstash's docs set it up for Workers (retries, auto-pipelining).
 */
function upstashLimiter(env: BenchEnv): RateLimiter {
  const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL!, token: env.UPSTASH_REDIS_REST_TOKEN! });
  const limiters = new Map<string, Ratelimit>();
  return {
    async admit(tenant, cost) {
      const l = guardLimits(tenant.tier);
      let rl = limiters.get(tenant.id);
      if (!rl) {
        // The tier's rate per minute as a 60 s sliding window (the TenantGuard's bucket refills at that rate).
        rl = new Ratelimit({ redis, limiter: Ratelimit.slidingWindow(l.ratePerMinute, '60 s'), prefix: `rl:${tenant.id}`, ephemeralCache: false });
        limiters.set(tenant.id, rl);
      }
      const r = await rl.limit(tenant.id, { rate: cost });
      return { ok: r.success, reason: r.success ? undefined : 'RATE_LIMITED', limit: r.limit, remaining: r.remaining, resetMs: Math.max(0, r.reset - Date.now()), retryAfterMs: Math.max(1000, r.reset - Date.now()) };
    },
    async release() {},
  };
}

/**
 * Cloudflare's Rate Limiting binding: one `limit({ key })` per request, `{ success }` only. It
 * has no remaining count and no reset time (so the headers say what the binding was configured
 * with), no cost (a request of weight n asks n times) and no concurrency slots.
 */
function cloudflareLimiter(env: BenchEnv): RateLimiter {
  const binding = env.RATE_LIMITER;
  if (!binding) throw new Error('BENCH_LIMITER=cloudflare needs the RATE_LIMITER binding');
  return {
    async admit(tenant: Tenant, cost: number) {
      let ok = true;
      for (let i = 0; i < cost && ok; i++) ok = (await binding.limit({ key: tenant.id })).success;
      return { ok, reason: ok ? undefined : 'RATE_LIMITED', limit: 0, remaining: 0, resetMs: 60_000, retryAfterMs: 10_000 };
    },
    async release() {},
  };
}

const built = new WeakMap<object, Services>();
function services(env: BenchEnv): Services {
  let s = built.get(env);
  if (!s) {
    const base = routerServices(env);
    const limiter = env.BENCH_LIMITER === 'upstash' ? upstashLimiter(env) : env.BENCH_LIMITER === 'cloudflare' ? cloudflareLimiter(env) : null;
    s = limiter ? { ...base, limiter } : base;
    if (env.BENCH_TOKEN_CACHE === 'off') {
      const c = base.config;
      s = { ...s, verifier: new TokenVerifier({ platform: { issuer: c.PLATFORM_ISSUER, audience: c.PLATFORM_AUDIENCE, secret: c.PLATFORM_JWT_SECRET }, verifiedTokens: false }) };
    }
    built.set(env, s);
  }
  return s;
}

const bench = new Hono<{ Bindings: BenchEnv }>();
bench.get('/__bench/guard-stats/:tenantId', async (c) =>
  c.json(await guardStub(c.env.TENANT_GUARD, { id: c.req.param('tenantId'), guardJurisdiction: 'global' }, false).stats()));
/**
 * `n` decisions of this worker's limiter for tenant `slug`, one after the other, so that the
 * client's timing of n = N against n = 0 is the cost of N decisions. Each release goes to
 * waitUntil, as the quota step sends it (with leasing it resolves only with the grant's settle).
 */
bench.get('/__bench/decide', async (c) => {
  const s = services(c.env);
  const n = Math.min(1000, Number(c.req.query('n') ?? 0));
  const tenant = await s.directory.resolve({ kind: 'slug', value: c.req.query('slug') ?? 'acme' });
  if (!tenant) return c.json({ error: 'no tenant' }, 404);
  let refused = 0;
  for (let i = 0; i < n; i++) {
    const r = await s.limiter.admit(tenant, 1);
    if (!r.ok) refused++;
    else if (r.leaseId) c.executionCtx.waitUntil(s.limiter.release(tenant, r.leaseId).catch(() => {}));
  }
  return c.json({ n, refused });
});
/** Tokens this isolate remembers (the verified-token cache's size). */
bench.get('/__bench/isolate', (c) => c.json({ cachedTokens: services(c.env).verifier.cachedTokens }));
const withLog = buildRouter(services);
const withoutLog = buildRouter(services, { accessLog: null });
let sunk = 0;
const sinkLog = buildRouter(services, { accessLog: (line) => { sunk += line.length; } });
bench.get('/__bench/sunk', (c) => c.json({ chars: sunk }));
bench.all('*', (c) => (c.env.BENCH_ACCESS_LOG === 'off' ? withoutLog : c.env.BENCH_ACCESS_LOG === 'sink' ? sinkLog : withLog).fetch(c.req.raw, c.env, c.executionCtx));

export default bench;
