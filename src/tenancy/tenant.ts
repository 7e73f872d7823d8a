/** The tenant as the router sees it: one record, read from the control plane through caches. */
import { z } from 'zod';

export const ISOLATIONS = ['row', 'schema', 'database'] as const;
export type Isolation = (typeof ISOLATIONS)[number];

export const TierSchema = z.object({
  name: z.string(),
  isolation: z.enum(ISOLATIONS),
  rate_per_minute: z.number().int().positive(),
  burst: z.number().int().positive(),
  monthly_requests: z.number().int().positive(),
  hard_cap: z.boolean(),
  concurrency: z.number().int().positive(),
  fail_mode: z.enum(['open', 'closed']),
  breaker_failures: z.number().int().positive(),
  breaker_window_seconds: z.number().int().positive(),
  breaker_cooldown_seconds: z.number().int().positive(),
  // Present in every record read from the control database (migrations 0001, 0009); optional so
  // that a record cached before max_body_bytes existed still parses (limitsOf gives the default).
  storage_mb: z.number().int().positive().optional(),
  connection_limit: z.number().int().positive().optional(),
  max_body_bytes: z.number().int().positive().optional(),
}).loose();

/** A tenant's proxy settings as the router reads them (the admin API validates them on the way in). */
export const ProxySettingsRecord = z.object({
  origin: z.object({ url: z.string(), region: z.string() }).nullable().default(null),
  prefixes: z.array(z.string()).nullable().default(null),
});

/** The body limit of a tier that has none recorded (a record cached before migration 0009). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const MIB = 1024 * 1024;

/**
 * The tier's limits the router enforces outside the TenantGuard, in the units it uses. `connections`
 * is the tier's connection_limit: the bound for the tenant's concurrent database connections (the
 * runtime role's CONNECTION LIMIT for `schema` and `database` tenants; interactive transactions
 * over WebSockets count against it, see docs/quotas.md).
 */
export interface TenantLimits { connections: number; maxBodyBytes: number; storageBytes: number | null }

/** The limits of a tier (template values with the tenant's overrides applied), pure. */
export function limitsOf(tier: z.infer<typeof TierSchema>): TenantLimits {
  return {
    connections: tier.connection_limit ?? tier.concurrency,
    maxBodyBytes: tier.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
    storageBytes: tier.storage_mb === undefined ? null : tier.storage_mb * MIB,
  };
}

const TenantRecord = z.object({
  id: z.uuid(),
  slug: z.string(),
  name: z.string(),
  status: z.enum(['provisioning', 'active', 'suspended', 'migrating', 'deleting']),
  version: z.number().int(),
  region: z.string(),
  residency: z.string().nullable(),
  /** Where the tenant's TenantGuard lives; fixed at creation (residency may change, this may not). */
  guardJurisdiction: z.enum(['eu', 'global']),
  isolation: z.enum(ISOLATIONS),
  tier: TierSchema,
  jwt: z.object({
    issuer: z.string(),
    audience: z.string(),
    jwksUrl: z.string(),
    claim: z.string(),
    algorithms: z.array(z.string()),
  }).nullable(),
  geo: z.object({
    allowCountries: z.array(z.string()),
    blockCountries: z.array(z.string()),
    ipAllow: z.array(z.string()),
  }).nullable(),
  placement: z.object({
    region: z.string(),
    strategy: z.enum(ISOLATIONS),
    schemaName: z.string().nullable(),
    roleName: z.string().nullable(),
    databaseName: z.string().nullable(),
    connectionSecret: z.string().nullable(),
  }).nullable(),
  /**
   * Proxy mode settings of the tenant (src/proxy/, migration 0010); null: the router's own. The
   * default lets records cached before the field existed parse (as "no settings"), so the L2 key
   * version did not need a bump.
   */
  proxy: ProxySettingsRecord.nullable().default(null),
  /**
   * Whether the tenant's last measured storage exceeds its tier's storage_mb (src/storage/): its
   * writes are refused 507. False in records cached before it existed.
   */
  storageExceeded: z.boolean().default(false),
  /**
   * The tenant's data key, wrapped under MASTER_KEY (migration 0013, src/tenant-keys/); null for a
   * tenant made before it (the router creates one on first use) and in records cached before it.
   */
  dataKey: z.string().nullable().default(null),
});

/** The record, with `limits` derived from its tier (so a cached record can never disagree with it). */
export const TenantSchema = TenantRecord.transform((t) => ({ ...t, limits: limitsOf(t.tier) }));

export type Tenant = z.infer<typeof TenantSchema>;
export type Tier = z.infer<typeof TierSchema>;

/** How a tenant is looked up: by subdomain slug, custom domain, id (token claim) or JWT issuer. */
export type LookupKey =
  | { kind: 'slug'; value: string }
  | { kind: 'domain'; value: string }
  | { kind: 'id'; value: string }
  | { kind: 'issuer'; value: string };

/**
 * The L2 key of a lookup; the control plane deletes these on every change. The version names the
 * record's shape: bump it whenever the record changes, so old and new routers never read each
 * other's entries.
 */
export const cacheKey = (k: LookupKey): string => `tenant:v2:${k.kind}:${k.value}`;

/** The invalidation epoch of a lookup's L2 entry (src/cache/coherence.ts). `epoch` is no lookup kind, so the two never collide. */
export const epochKey = (k: LookupKey): string => `tenant:v2:epoch:${k.kind}:${k.value}`;
