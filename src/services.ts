/**
 * What the pipeline talks to, built once per isolate from the validated configuration:
 * the tenant directory (L1 → Upstash → control Postgres), the token verifier, the data router,
 * the quota guard and the circuit breakers.
 */
import { parseConfig, type Config, type Env } from './env.js';
import { useLocalNeonEndpoint } from './data/neon-config.js';
import { TenantDataRouter } from './data/tenant-db.js';
import { ControlStore } from './tenancy/control-store.js';
import { TenantDirectory } from './tenancy/directory.js';
import { upstashCache } from './cache/upstash-l2.js';
import { TokenVerifier } from './auth/token-verifier.js';
import { importMasterKey } from './crypto/secret-box.js';
import { GuardRateLimiter, type RateLimiter } from './quota/rate-limiter.js';
import { LeasingRateLimiter } from './quota/leasing-limiter.js';
import { BreakerGate } from './breaker/breaker-gate.js';
import { controlAuditSink, type SecurityAuditSink } from './policy/security-audit.js';
import { proxyServices, type ProxyServices } from './proxy/services.js';
import { TenantKeys } from './tenant-keys/tenant-crypto.js';
import { controlKeyStore } from './tenant-keys/key-store.js';

export interface Services {
  config: Config;
  directory: TenantDirectory;
  verifier: TokenVerifier;
  data: TenantDataRouter;
  limiter: RateLimiter;
  breakers: BreakerGate;
  audit: SecurityAuditSink;
  proxy: ProxyServices;
  /** Tenant data keys, unwrapped with MASTER_KEY per isolate: `c.var.crypto` (src/tenant-keys/). */
  keys: TenantKeys;
}

const built = new WeakMap<object, Services>();

/** The services for `env`, built on first use in this isolate. */
export function routerServices(env: Env): Services {
  const cached = built.get(env);
  if (cached) return cached;
  const config = parseConfig(env);
  useLocalNeonEndpoint(config.NEON_LOCAL_ENDPOINT);
  const shared = config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN
    ? upstashCache(config.UPSTASH_REDIS_REST_URL, config.UPSTASH_REDIS_REST_TOKEN) : null;
  const log = (where: string, err: unknown) => console.warn(JSON.stringify({ level: 'warn', msg: 'tenant cache', where, error: String(err) }));
  const masterKey = importMasterKey(config.MASTER_KEY);
  const guard = new GuardRateLimiter(env.TENANT_GUARD, config.DO_JURISDICTIONS);
  const services: Services = {
    config,
    directory: new TenantDirectory({
      store: new ControlStore(config.CONTROL_DATABASE_URL), shared,
      l1TtlMs: config.TENANT_CACHE_TTL_MS, negativeTtlMs: config.TENANT_NEGATIVE_TTL_MS,
      budget: { burst: config.TENANT_LOOKUP_BURST, perSecond: config.TENANT_LOOKUP_RATE }, onError: log,
    }),
    verifier: new TokenVerifier({ platform: { issuer: config.PLATFORM_ISSUER, audience: config.PLATFORM_AUDIENCE, secret: config.PLATFORM_JWT_SECRET } }),
    data: new TenantDataRouter({ regionUrls: config.REGION_DATABASE_URLS, masterKey, queryTimeoutMs: config.TENANT_QUERY_TIMEOUT_MS }),
    limiter: config.QUOTA_LEASING ? new LeasingRateLimiter(guard) : guard,
    breakers: new BreakerGate(env.CIRCUIT_BREAKER),
    audit: controlAuditSink(config.CONTROL_DATABASE_URL),
    proxy: proxyServices(config, env),
    keys: new TenantKeys({ masterKey, store: controlKeyStore(config.CONTROL_DATABASE_URL) }),
  };
  built.set(env, services);
  return services;
}
