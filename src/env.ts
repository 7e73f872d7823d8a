/**
 * The router's bindings and its one configuration parser. String vars and secrets are validated
 * once per isolate; a missing or malformed one is a clear 500 naming the variable, never a crash
 * deep in a request.
 */
import { z } from 'zod';
import { parseBaseDomains } from './tenancy/host.js';
import { DEFAULT_LOOKUP_BUDGET } from './tenancy/directory.js';
import { keyRingVar } from './crypto/key-ring.js';
import { checkMasterSecret } from './crypto/secret-box.js';
import { checkProxyVars, PROXY_VARS } from './proxy/config.js';

/** Bindings as declared in wrangler.toml (vars) and set as secrets. */
export interface Env {
  TENANT_GUARD: DurableObjectNamespace<import('./quota/tenant-guard.js').TenantGuard>;
  CIRCUIT_BREAKER: DurableObjectNamespace<import('./breaker/circuit-breaker.js').CircuitBreaker>;
  /** The sharded metrics aggregator (src/metrics/aggregator.ts); absent: isolates keep no batch. */
  METRICS_AGGREGATOR?: DurableObjectNamespace<import('./metrics/aggregator.js').MetricsAggregator>;
  /** Workers Analytics Engine dataset (production): one data point per request; absent: skipped. */
  ANALYTICS?: import('./metrics/analytics.js').AnalyticsSink;
  TENANT_BASE_DOMAINS: string;
  PLATFORM_ISSUER: string;
  PLATFORM_AUDIENCE: string;
  /** Key ring of platform tokens: `kid:secret,...`, the first signs (src/crypto/key-ring.ts); a bare secret is `k0`. */
  PLATFORM_JWT_SECRET: string;
  /** Key ring sealing dedicated-database connection strings: `kid:base64,...`; identical in the control plane. */
  MASTER_KEY: string;
  CONTROL_DATABASE_URL: string;
  /** JSON object: region → connection string of the router's role on that region's shared database. */
  REGION_DATABASE_URLS: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  /** Local only: the Neon-compatible endpoint standing in for Neon. Unset in production. */
  NEON_LOCAL_ENDPOINT?: string;
  TENANT_CACHE_TTL_MS?: string;
  /** "false" only where Durable Object jurisdictions do not exist (local workerd). */
  DO_JURISDICTIONS?: string;
  /** "false" turns isolate token leasing off (every request asks its TenantGuard). */
  QUOTA_LEASING?: string;
  TENANT_NEGATIVE_TTL_MS?: string;
  /** Control-DB lookups an isolate may make at once, and per second after that (a flood of unknown names costs no more). */
  TENANT_LOOKUP_BURST?: string;
  /** Longest a tenant database call may take, client and server side (default 5000 ms). */
  TENANT_QUERY_TIMEOUT_MS?: string;
  TENANT_LOOKUP_RATE?: string;
  /** Proxy mode (src/proxy/config.ts, docs/proxy.md): JSON region → origin URL or `service:NAME`. */
  ORIGINS?: string;
  /** Proxy mode: path prefixes forwarded to the tenant's origin (`/app/,/v2/`). */
  PROXY_PREFIXES?: string;
  /** Proxy mode: the ES256 key ring signing tenant contexts (`kid:<base64url JWK>,...`). */
  CONTEXT_SIGNING_KEY?: string;
  ORIGIN_TIMEOUT_MS?: string;
  /** An origin's breaker: `failures/windowSeconds/cooldownSeconds` (default 5/30/10). */
  ORIGIN_BREAKER?: string;
  /** `true`: a tenant's dedicated origin may be loopback http (the local stack only; default false). */
  PROXY_ORIGIN_LOOPBACK?: string;
}

const url = z.url({ protocol: /^(postgres|postgresql)$/ });
const ConfigSchema = z.object({
  TENANT_BASE_DOMAINS: z.string().min(1),
  PLATFORM_ISSUER: z.string().min(1),
  PLATFORM_AUDIENCE: z.string().min(1),
  PLATFORM_JWT_SECRET: keyRingVar(checkPlatformSecret),
  MASTER_KEY: keyRingVar(checkMasterSecret),
  CONTROL_DATABASE_URL: url,
  REGION_DATABASE_URLS: z.string().transform((s, ctx) => {
    try { return z.record(z.string(), url).parse(JSON.parse(s)); } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of region → postgres URL' });
      return z.NEVER;
    }
  }),
  UPSTASH_REDIS_REST_URL: z.url().optional(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  NEON_LOCAL_ENDPOINT: z.url().optional(),
  TENANT_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  // Negative entries live no longer than positive ones: a tenant created on a probed name is a change too.
  TENANT_NEGATIVE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  TENANT_QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  TENANT_LOOKUP_BURST: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_LOOKUP_BUDGET.burst),
  TENANT_LOOKUP_RATE: z.coerce.number().min(0.1).max(10_000).default(DEFAULT_LOOKUP_BUDGET.perSecond),
  DO_JURISDICTIONS: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  QUOTA_LEASING: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  ...PROXY_VARS,
});

/** HS256 keys shorter than this are guessable offline from one token. */
function checkPlatformSecret(secret: string): string | null {
  if (secret.length < 32) return 'must be at least 32 characters';
  // The examples' placeholder, copied without being replaced, would let anyone mint tokens.
  return /replace/i.test(secret) ? 'is the placeholder of the examples, not a random secret' : null;
}

export type Config = Omit<z.infer<typeof ConfigSchema>, 'TENANT_BASE_DOMAINS'> & { baseDomains: string[] };

/** Parses and validates `env`; throws an Error naming every bad variable (never its value). */
export function parseConfig(env: Env): Config {
  const r = ConfigSchema.safeParse({ ...env });
  if (!r.success) {
    const names = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${names}`);
  }
  const proxy = checkProxyVars(r.data);
  if (proxy) throw new Error(`invalid configuration: ${proxy}`);
  const { TENANT_BASE_DOMAINS, ...rest } = r.data;
  return { ...rest, baseDomains: parseBaseDomains(TENANT_BASE_DOMAINS) };
}
