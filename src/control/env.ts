/**
 * The control worker's bindings and its one configuration parser (the router's is src/env.ts).
 * Secrets are validated once per isolate; a bad one is a 500 naming the variable, never its value.
 */
import { originsVar } from '../proxy/config.js';
import { z } from 'zod';
import { parseBaseDomains } from '../tenancy/host.js';
import { keyRingVar } from '../crypto/key-ring.js';
import { checkMasterSecret } from '../crypto/secret-box.js';
import { secretKey } from '../alerts/webhook.js';

/** Bindings as declared in workers/control/wrangler.toml (vars) and set as secrets. */
export interface ControlEnv {
  /** Owner connection of the control database. */
  CONTROL_DATABASE_URL: string;
  /** Key ring sealing dedicated-database connection strings (`kid:base64,...`, the first seals); identical in the router. */
  MASTER_KEY: string;
  /** The admin bearer secret (at least 32 characters). */
  ADMIN_TOKEN: string;
  /** Optional admin JWTs: issuer, audience and JWKS of the operators' identity provider. */
  ADMIN_JWT_ISSUER?: string;
  ADMIN_JWT_AUDIENCE?: string;
  ADMIN_JWKS_URL?: string;
  /** The routers' base domains: their subdomains are slugs and cannot be custom domains. */
  TENANT_BASE_DOMAINS?: string;
  /** Host names the admin API answers on; any other Host (a tenant's) gets 404. */
  CONTROL_HOSTS: string;
  /** `local` (owner connections per region) or `neon` (Neon API for dedicated databases). */
  PROVISIONER: string;
  /** JSON object: region → owner URL of that region's shared database. */
  REGION_ADMIN_URLS: string;
  /** The role routers use on shared databases; schema tenants' roles are granted to it. */
  ROUTER_ROLE?: string;
  NEON_API_KEY?: string;
  NEON_API_URL?: string;
  /** With PROVISIONER=neon: the organisation database tenants' projects are created in. */
  NEON_ORG_ID?: string;
  /** With PROVISIONER=neon: JSON region → Neon project id of that region's shared project (row and schema tenants). */
  NEON_REGION_PROJECTS?: string;
  /** With PROVISIONER=neon: `history_retention_seconds` of new database tenants' projects (their branch/restore window; unset: the plan's default). */
  NEON_HISTORY_RETENTION_SECONDS?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  NEON_LOCAL_ENDPOINT?: string;
  /** Seconds between deleting a tenant and lifting its storage fence (default 120). */
  PURGE_GRACE_SECONDS?: string;
  /** Longest lifetime (exp - iat) and age (now - iat) of an admin JWT, in seconds (default 3600). */
  ADMIN_JWT_MAX_AGE_SECONDS?: string;
  /** Seconds between two `admin.refused` summary entries of one isolate (default 60). */
  REFUSAL_AUDIT_WINDOW_SECONDS?: string;
  /** Seconds between two `metrics.reads` summary entries of one isolate (default 3600). */
  METRICS_AUDIT_WINDOW_SECONDS?: string;
  TENANT_CACHE_TTL_MS?: string;
  /** Timeout of one control-database call, in milliseconds (default 10000). */
  CONTROL_DB_TIMEOUT_MS?: string;
  /** How long POST /tenants waits for provisioning before answering 202 (default 20000 ms). */
  PROVISION_WAIT_MS?: string;
  /** Seconds between two measurements of a tenant's storage by the scheduled job (default 300; docs/quotas.md). */
  STORAGE_REFRESH_SECONDS?: string;
  /** `cloudflare`: custom domains are Cloudflare for SaaS custom hostnames, served once verified; `off` (default): active at once. */
  CUSTOM_HOSTNAMES?: string;
  /** API token with Zone → SSL and Certificates: Edit on the SaaS zone (secret). */
  CLOUDFLARE_API_TOKEN?: string;
  /** The SaaS zone's id (the zone that holds the fallback origin). */
  CLOUDFLARE_ZONE_ID?: string;
  /** API base URL (default Cloudflare's); locally the stand-in's. */
  CLOUDFLARE_API_URL?: string;
  /** What tenants CNAME their domains to: the fallback origin's hostname. */
  CLOUDFLARE_CNAME_TARGET?: string;
  /** Timeout of one Cloudflare API call, in milliseconds (default 10000). */
  CLOUDFLARE_API_TIMEOUT_MS?: string;
  /** Certificate validation method for new custom hostnames: only `txt` is accepted (the default). */
  CLOUDFLARE_DCV_METHOD?: string;
  /** The router's metrics aggregator (a `script_name` binding to the router's class); absent: the metrics routes answer 503. */
  METRICS_AGGREGATOR?: DurableObjectNamespace<import('../metrics/aggregator.js').MetricsAggregator>;
  /** The routers' TenantGuard objects (a `script_name` binding to the router's class): export reads and erase clears a tenant's guard state; absent: both say so. */
  TENANT_GUARD?: DurableObjectNamespace<import('../quota/tenant-guard.js').TenantGuard>;
  /** The R2 bucket of per-tenant logical backups (src/backups/, docs/backups.md); absent: the backup routes answer 503 BACKUPS_UNAVAILABLE. */
  BACKUPS?: R2Bucket;
  /** "false" only where Durable Object jurisdictions do not exist (local workerd), as the router's. */
  DO_JURISDICTIONS?: string;
  /** Tenants labelled by slug in GET /admin/v1/metrics, by request volume; the rest are `tenant="other"` (default 20). */
  METRICS_TOP_TENANTS?: string;
  /** The routers' ORIGINS (same JSON): which `service:NAME` dedicated origins exist, per jurisdiction; unset: none is accepted. */
  ORIGINS?: string;
  /** `true`: a dedicated origin may be loopback http (the local stack only; default false). */
  PROXY_ORIGIN_LOOPBACK?: string;
  /** Where alert events are POSTed (https; http only to localhost or 127.0.0.1); unset: no webhook (docs/alerts.md). */
  ALERT_WEBHOOK_URL?: string;
  /** The Standard Webhooks signing secret, `whsec_<base64 of 24–64 bytes>` (secret); required with ALERT_WEBHOOK_URL. */
  ALERT_WEBHOOK_SECRET?: string;
  /** Timeout of one webhook delivery, in milliseconds (default 5000). */
  ALERT_WEBHOOK_TIMEOUT_MS?: string;
  /** The p95 latency SLO of every tier, in milliseconds, overriding the built-in tiers' (100 ms; docs/alerts.md). */
  ALERT_SLO_P95_MS?: string;
  /** Seconds between two scheduled verifications of the audit chain by the alert rules (default 3600; 0: every run). */
  ALERT_AUDIT_VERIFY_SECONDS?: string;
}

const pgUrl = z.url({ protocol: /^(postgres|postgresql)$/ });
/** The longest a tenant creation waits for its provisioning before answering 202. */
export const PROVISION_WAIT_MAX_MS = 60_000;
/** True for an https URL, or an http one to localhost or 127.0.0.1 (the local stand-ins). */
export function httpsOrLoopback(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'https:' || (u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1'));
}
/** An integer variable (vars are strings) within [min, max], `fallback` when unset. */
const intVar = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);
const ConfigSchema = z.object({
  CONTROL_DATABASE_URL: pgUrl,
  MASTER_KEY: keyRingVar(checkMasterSecret),
  ADMIN_TOKEN: z.string().min(32, 'must be at least 32 characters')
    .refine((s) => !/replace/i.test(s), 'is the placeholder of the examples, not a random token'),
  ADMIN_JWT_ISSUER: z.string().min(1).optional(),
  ADMIN_JWT_AUDIENCE: z.string().min(1).optional(),
  ADMIN_JWKS_URL: z.url().optional(),
  CONTROL_HOSTS: z.string().min(1).transform((s) => s.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean)),
  PROVISIONER: z.enum(['local', 'neon']),
  TENANT_BASE_DOMAINS: z.string().default('').transform((s) => (s.trim() ? parseBaseDomains(s) : [])),
  REGION_ADMIN_URLS: z.string().transform((s, ctx) => {
    try { return z.record(z.string(), pgUrl).parse(JSON.parse(s)); } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of region → postgres URL' });
      return z.NEVER;
    }
  }),
  ORIGINS: originsVar,
  PROXY_ORIGIN_LOOPBACK: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  ROUTER_ROLE: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('app_router'),
  NEON_API_KEY: z.string().min(1).optional(),
  NEON_API_URL: z.url().optional(),
  NEON_ORG_ID: z.string().regex(/^[a-z0-9-]{1,60}$/, 'must be a Neon organisation id (org-…)').optional(),
  NEON_REGION_PROJECTS: z.string().optional().transform((s, ctx) => {
    if (s === undefined) return undefined;
    try { return z.record(z.string(), z.string().regex(/^[a-z0-9-]{1,60}$/)).parse(JSON.parse(s)); } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of region → Neon project id' });
      return z.NEVER;
    }
  }),
  // Neon allows up to 30 days.
  NEON_HISTORY_RETENTION_SECONDS: z.coerce.number().int().min(0).max(2_592_000).optional(),
  UPSTASH_REDIS_REST_URL: z.url().optional(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  NEON_LOCAL_ENDPOINT: z.url().optional(),
  // No router may still send a request for a deleted tenant when its fence goes: L1 TTL (5 s) +
  // request deadline (30 s) + margin. 0 only makes sense in tests.
  PURGE_GRACE_SECONDS: intVar(120, 0, 86_400),
  ADMIN_JWT_MAX_AGE_SECONDS: intVar(3600, 60, 86_400),
  REFUSAL_AUDIT_WINDOW_SECONDS: intVar(60, 1, 3600),
  METRICS_AUDIT_WINDOW_SECONDS: intVar(3600, 1, 86_400),
  // The routers' L1 TTL (the router's variable of the same name): how long a router may still hold
  // a tenant's old record after a change. A dedicated database a move left is dropped only after it.
  TENANT_CACHE_TTL_MS: intVar(5_000, 0, 60_000),
  CONTROL_DB_TIMEOUT_MS: intVar(10_000, 500, 120_000),
  PROVISION_WAIT_MS: intVar(20_000, 0, PROVISION_WAIT_MAX_MS),
  // Row tenants are measured by scanning their rows: not every minute (0: at every run, tests).
  STORAGE_REFRESH_SECONDS: intVar(300, 0, 86_400),
  CUSTOM_HOSTNAMES: z.enum(['cloudflare', 'off']).default('off'),
  CLOUDFLARE_API_TOKEN: z.string().min(1).optional(),
  CLOUDFLARE_ZONE_ID: z.string().regex(/^[0-9a-f]{32}$/, 'must be a zone id (32 hex digits)').optional(),
  // The API token travels with every call: https, except to the local stand-in on loopback.
  CLOUDFLARE_API_URL: z.url({ protocol: /^https?$/ }).refine(httpsOrLoopback, 'must be https (http only for localhost or 127.0.0.1)').optional(),
  CLOUDFLARE_CNAME_TARGET: z.string().regex(/^[a-z0-9.-]{1,253}$/i, 'must be a hostname').transform((s) => s.toLowerCase()).optional(),
  CLOUDFLARE_API_TIMEOUT_MS: intVar(10_000, 100, 60_000),
  // Only txt: HTTP validation lets a CNAME left behind by a former owner pass as proof (client.ts).
  CLOUDFLARE_DCV_METHOD: z.string().default('txt').refine((v) => v === 'txt',
    'only txt is accepted: http validation lets a leftover CNAME to the SaaS zone pass as ownership'),
  METRICS_TOP_TENANTS: intVar(20, 1, 500),
  // Alert events leave the platform: https, except to a receiver on loopback (the local stack, the tests).
  ALERT_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).refine(httpsOrLoopback, 'must be https (http only for localhost or 127.0.0.1)').optional(),
  ALERT_WEBHOOK_SECRET: z.string().refine((v) => secretKey(v) !== null, 'must be whsec_ followed by the base64 of 24 to 64 random bytes').optional(),
  ALERT_WEBHOOK_TIMEOUT_MS: intVar(5_000, 100, 30_000),
  ALERT_AUDIT_VERIFY_SECONDS: intVar(3600, 0, 86_400),
  ALERT_SLO_P95_MS: z.coerce.number().int().min(1).max(60_000).optional(),
}).refine((c) => c.PROVISIONER !== 'neon' || c.NEON_API_KEY, { message: 'NEON_API_KEY is required with PROVISIONER=neon', path: ['NEON_API_KEY'] })
  .refine((c) => c.PROVISIONER !== 'neon' || c.NEON_ORG_ID, { message: 'NEON_ORG_ID is required with PROVISIONER=neon', path: ['NEON_ORG_ID'] })
  .refine((c) => c.PROVISIONER !== 'neon' || c.NEON_REGION_PROJECTS, { message: 'NEON_REGION_PROJECTS is required with PROVISIONER=neon', path: ['NEON_REGION_PROJECTS'] })
  .refine((c) => c.PROVISIONER !== 'neon' || !c.NEON_REGION_PROJECTS || Object.keys(c.REGION_ADMIN_URLS ?? {}).every((r) => c.NEON_REGION_PROJECTS![r]),
    { message: 'NEON_REGION_PROJECTS must name a project for every region of REGION_ADMIN_URLS', path: ['NEON_REGION_PROJECTS'] })
  .refine((c) => c.CUSTOM_HOSTNAMES !== 'cloudflare' || c.CLOUDFLARE_API_TOKEN, { message: 'CLOUDFLARE_API_TOKEN is required with CUSTOM_HOSTNAMES=cloudflare', path: ['CLOUDFLARE_API_TOKEN'] })
  .refine((c) => c.CUSTOM_HOSTNAMES !== 'cloudflare' || c.CLOUDFLARE_ZONE_ID, { message: 'CLOUDFLARE_ZONE_ID is required with CUSTOM_HOSTNAMES=cloudflare', path: ['CLOUDFLARE_ZONE_ID'] })
  .refine((c) => c.CUSTOM_HOSTNAMES !== 'cloudflare' || c.CLOUDFLARE_CNAME_TARGET, { message: 'CLOUDFLARE_CNAME_TARGET is required with CUSTOM_HOSTNAMES=cloudflare', path: ['CLOUDFLARE_CNAME_TARGET'] })
  .refine((c) => !c.ALERT_WEBHOOK_URL || c.ALERT_WEBHOOK_SECRET, { message: 'ALERT_WEBHOOK_SECRET is required with ALERT_WEBHOOK_URL', path: ['ALERT_WEBHOOK_SECRET'] })
  .refine((c) => !c.ADMIN_JWKS_URL || (c.ADMIN_JWT_ISSUER && c.ADMIN_JWT_AUDIENCE), { message: 'ADMIN_JWKS_URL needs ADMIN_JWT_ISSUER and ADMIN_JWT_AUDIENCE', path: ['ADMIN_JWKS_URL'] });

export type ControlConfig = z.infer<typeof ConfigSchema>;

/** Parses and validates `env`; throws an Error naming every bad variable (never its value). */
export function parseControlConfig(env: ControlEnv): ControlConfig {
  const r = ConfigSchema.safeParse({ ...env });
  if (!r.success) throw new Error(`invalid configuration: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}
