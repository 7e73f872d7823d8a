/**
 * The admin API's schemas: the same zod objects validate requests and generate
 * /admin/v1/openapi.json, so the document cannot drift from what the API accepts.
 */
import { z } from '@hono/zod-openapi';
import { ISOLATIONS } from '../tenancy/tenant.js';
import { isPrefix, parseTarget } from '../proxy/config.js';

// `--` in positions 3-4 marks an ACE label (`xn--` punycode, look-alikes of other names): a slug
// is shown as is, so it may not be one (also a CHECK in the database).
export const SLUG = /^(?!..--)[a-z][a-z0-9-]{0,38}[a-z0-9]$/;
const TEMPLATE_NAME = /^[A-Z][A-Z0-9_]{1,39}$/;
const COUNTRY = z.string().regex(/^[A-Z]{2}$/, 'ISO 3166 alpha-2, upper case');
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export const ErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string().nullable() }),
}).openapi('Error');

/** A template's limits, camelCase in the API and YAML, snake_case in Postgres (see LIMIT_COLUMNS). */
export const LimitsSchema = z.object({
  ratePerMinute: z.number().int().positive().max(10_000_000),
  burst: z.number().int().positive().max(10_000_000),
  monthlyRequests: z.number().int().positive().max(1e15),
  hardCap: z.boolean(),
  concurrency: z.number().int().positive().max(1_000_000),
  failMode: z.enum(['open', 'closed']),
  breakerFailures: z.number().int().positive().max(10_000),
  breakerWindowSeconds: z.number().int().positive().max(86_400),
  breakerCooldownSeconds: z.number().int().positive().max(86_400),
  storageMb: z.number().int().positive().max(100_000_000),
  connectionLimit: z.number().int().positive().max(100_000),
  maxBodyBytes: z.number().int().positive().max(1_073_741_824).openapi({ description: 'Largest request body, in bytes (413 PAYLOAD_TOO_LARGE past it)' }),
}).strict().openapi('Limits');
export type Limits = z.infer<typeof LimitsSchema>;

export const PricingSchema = z.object({
  monthlyCents: z.number().int().min(0).max(1e9),
  overageCentsPer1k: z.number().int().min(0).max(1e6),
}).strict().openapi('Pricing');

/** camelCase limit → tiers column; the only column names that reach SQL text. */
export const LIMIT_COLUMNS: Record<keyof Limits, string> = {
  ratePerMinute: 'rate_per_minute', burst: 'burst', monthlyRequests: 'monthly_requests', hardCap: 'hard_cap',
  concurrency: 'concurrency', failMode: 'fail_mode', breakerFailures: 'breaker_failures',
  breakerWindowSeconds: 'breaker_window_seconds', breakerCooldownSeconds: 'breaker_cooldown_seconds',
  storageMb: 'storage_mb', connectionLimit: 'connection_limit', maxBodyBytes: 'max_body_bytes',
};

export const TemplateSchema = z.object({
  name: z.string().regex(TEMPLATE_NAME, 'upper case, digits and _, 2-40 characters'),
  builtin: z.boolean(),
  basedOn: z.string().nullable(),
  description: z.string().max(500),
  isolation: z.enum(ISOLATIONS),
  limits: LimitsSchema,
  pricing: PricingSchema,
}).strict().openapi('Template');
export type Template = z.infer<typeof TemplateSchema>;

export const CreateTemplateSchema = z.object({
  name: z.string().regex(TEMPLATE_NAME, 'upper case, digits and _, 2-40 characters'),
  from: z.string().regex(TEMPLATE_NAME).openapi({ description: 'A built-in tier or another template to start from' }),
  description: z.string().max(500).optional(),
  isolation: z.enum(ISOLATIONS).optional(),
  limits: LimitsSchema.partial().optional(),
  pricing: PricingSchema.partial().optional(),
}).strict().openapi('CreateTemplate');

export const PatchTemplateSchema = z.object({
  description: z.string().max(500).optional(),
  limits: LimitsSchema.partial().optional(),
  pricing: PricingSchema.partial().optional(),
}).strict().openapi('PatchTemplate');

export const JwtSettingsSchema = z.object({
  issuer: z.string().min(1).max(500),
  audience: z.string().min(1).max(500),
  jwksUrl: z.url({ protocol: /^https?$/ }),
  claim: z.string().regex(/^[A-Za-z_][A-Za-z0-9_:./-]{0,63}$/).default('tid'),
  algorithms: z.array(z.enum(ALGORITHMS)).min(1).default(['RS256', 'ES256']),
}).strict().openapi('JwtSettings');

export const GeoPolicySchema = z.object({
  allowCountries: z.array(COUNTRY).max(250).default([]),
  blockCountries: z.array(COUNTRY).max(250).default([]),
  ipAllow: z.array(z.string().max(64)).max(1000).default([]).openapi({ description: 'CIDR blocks (IPv4 or IPv6)' }),
}).strict().openapi('GeoPolicy');

export const OverridesSchema = LimitsSchema.partial().openapi('Overrides');

/** Proxy mode per tenant (docs/proxy.md): a dedicated origin and/or its own proxied prefixes. */
export const ProxySettingsSchema = z.object({
  origin: z.object({
    url: z.string().max(500).refine((u) => typeof parseTarget(u) !== 'string', 'an http(s) URL without query or credentials, or service:NAME')
      .openapi({ example: 'https://eu.app.acme.com' }),
    region: z.string().min(1).max(64).openapi({ example: 'aws-eu-central-1', description: "The region whose jurisdiction the origin is under; must satisfy the tenant's residency" }),
  }).strict().nullable().default(null).openapi({ description: "The tenant's dedicated origin; null: the router's origin of the tenant's region (ORIGINS)" }),
  prefixes: z.array(z.string().refine(isPrefix, 'a path starting with /')).max(20).nullable().default(null)
    .openapi({ description: "Path prefixes forwarded to the origin, replacing the router's PROXY_PREFIXES; [] forwards nothing; null: the router's" }),
}).strict().openapi('ProxySettings');

export const CreateTenantSchema = z.object({
  slug: z.string().regex(SLUG, 'a DNS label: a-z, 0-9 and -, 2-40 characters, no -- in positions 3-4'),
  name: z.string().min(1).max(200).optional(),
  tier: z.string().regex(TEMPLATE_NAME),
  region: z.string().min(1).max(64).openapi({ example: 'aws-eu-central-1', description: 'Required: there is no default region' }),
  residency: z.enum(['EU', 'US', 'UK', 'APAC']).nullable().optional(),
  isolation: z.enum(ISOLATIONS).optional().openapi({ description: "Defaults to the template's" }),
  overrides: OverridesSchema.optional(),
  domains: z.array(z.string().max(253)).max(20).optional(),
  jwt: JwtSettingsSchema.optional(),
  geo: GeoPolicySchema.optional(),
}).strict().openapi('CreateTenant');

export const PatchTenantSchema = z.object({
  name: z.string().min(1).max(200).optional(),
  tier: z.string().regex(TEMPLATE_NAME).optional(),
  residency: z.enum(['EU', 'US', 'UK', 'APAC']).nullable().optional(),
  overrides: OverridesSchema.optional().openapi({ description: 'Replaces all overrides' }),
  proxy: ProxySettingsSchema.nullable().optional().openapi({ description: 'Replaces the proxy settings; null removes them' }),
}).strict().openapi('PatchTenant');

export const TenantViewSchema = z.object({
  id: z.uuid(),
  slug: z.string(),
  name: z.string(),
  tier: z.string(),
  region: z.string(),
  residency: z.string().nullable(),
  isolation: z.enum(ISOLATIONS),
  status: z.enum(['provisioning', 'active', 'suspended', 'migrating', 'deleting']),
  statusDetail: z.string().nullable(),
  overrides: OverridesSchema,
  version: z.number().int(),
  domains: z.array(z.string()),
  jwt: JwtSettingsSchema.nullable(),
  geo: GeoPolicySchema.nullable(),
  placement: z.object({
    region: z.string(), strategy: z.enum(ISOLATIONS), schemaName: z.string().nullable(),
    databaseName: z.string().nullable(), externalRef: z.string().nullable(),
  }).nullable().openapi({ description: 'Where the rows live; the connection string is never returned' }),
  proxy: ProxySettingsSchema.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi('Tenant');
export type TenantView = z.infer<typeof TenantViewSchema>;

export const TenantListSchema = z.object({
  tenants: z.array(TenantViewSchema),
  nextCursor: z.string().nullable(),
}).openapi('TenantList');

export const ListTenantsQuery = z.object({
  tier: z.string().regex(TEMPLATE_NAME).optional(),
  region: z.string().max(64).optional(),
  status: z.enum(['provisioning', 'active', 'suspended', 'migrating', 'deleting']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

export const TenantRefParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' }, description: 'Tenant id or slug' }),
});

export const DomainBodySchema = z.object({ hostname: z.string().min(1).max(253) }).strict().openapi('DomainBody');

const MonthUsageSchema = z.object({
  month: z.string(),
  requests: z.number().int(),
  requestBytes: z.number().int().openapi({ description: 'Body bytes of admitted requests' }),
  responseBytes: z.number().int().openapi({ description: 'Body bytes of the responses the router sent them' }),
});

export const StorageSchema = z.object({
  bytes: z.number().int(),
  limitBytes: z.number().int().openapi({ description: "The tier's storage_mb (or override) in bytes" }),
  over: z.boolean().openapi({ description: 'Writes are refused 507 STORAGE_QUOTA_EXCEEDED while true' }),
  method: z.enum(['row_tuples', 'schema_relations', 'database_size']).openapi({ description: 'How it was measured (docs/quotas.md)' }),
  measuredAt: z.string(),
}).openapi('Storage');

export const UsageSchema = z.object({
  tenantId: z.uuid(),
  month: z.string(),
  requests: z.number().int(),
  requestBytes: z.number().int(),
  responseBytes: z.number().int(),
  included: z.number().int(),
  overage: z.number().int(),
  hardCap: z.boolean(),
  invoice: z.object({
    currency: z.literal('USD'),
    tier: z.string(),
    baseCents: z.number().int(),
    overageCents: z.number().int(),
    totalCents: z.number().int(),
    requestBytes: z.number().int().openapi({ description: 'Bandwidth in: shown, not priced' }),
    responseBytes: z.number().int().openapi({ description: 'Bandwidth out: shown, not priced' }),
  }),
  storage: StorageSchema.nullable().openapi({ description: 'The last measurement (null: not measured yet, or a deleted tenant)' }),
  history: z.array(MonthUsageSchema),
  deletedAt: z.string().nullable().openapi({ description: 'Set for a deleted tenant, billed on its terms at deletion' }),
}).openapi('Usage');

export const DeletedSchema = z.object({
  deleted: z.literal(true),
  id: z.uuid(),
  slug: z.string(),
  purgeCompletesAt: z.string().openapi({ description: "When the storage fence is lifted (PURGE_GRACE_SECONDS after the delete; the next maintenance run, at most a minute later): until then the tenant's storage refuses every transaction" }),
}).openapi('Deleted');

export const AuditEntrySchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  tenantId: z.string().nullable(),
  requestId: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()),
  hash: z.string(),
}).openapi('AuditEntry');

export const AuditQuery = z.object({
  tenant: z.string().max(64).optional(),
  action: z.string().max(100).optional(),
  actor: z.string().max(200).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.coerce.number().int().min(1).optional().openapi({ description: 'Return entries with a smaller seq' }),
});

export const AuditVerifySchema = z.object({
  ok: z.boolean(),
  checked: z.number().int(),
  head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
  brokenAt: z.number().int().nullable(),
  reason: z.string().nullable(),
}).openapi('AuditVerification');

export const MigrationNameParam = z.object({
  name: z.string().regex(/^[0-9]{4}_[a-z0-9_]{1,60}\.sql$/).openapi({ param: { name: 'name', in: 'path' } }),
});

export const MigrationStatusSchema = z.object({
  tenantId: z.uuid(),
  slug: z.string(),
  applied: z.string().nullable(),
  state: z.enum(['current', 'pending', 'failed', 'migrating']),
  error: z.string().nullable(),
}).openapi('MigrationStatus');

/** The fleet path: a batch of tenants (tenantctl migrate sends them a few hundred at a time). */
export const MigrationBatchSchema = z.object({
  tenantIds: z.array(z.uuid()).min(1).max(1000),
}).openapi('MigrationBatch');

export const MigrationRevertSchema = z.object({
  tenantIds: z.array(z.uuid()).min(1).max(1000),
  migrations: z.array(z.string().regex(/^[0-9]{4}_[a-z0-9_]{1,60}\.sql$/)).min(1).max(100)
    .openapi({ description: 'Catalogued migrations to undo (each must ship a down); run newest first, only where applied' }),
}).openapi('MigrationRevert');

export const MigrationBatchResultSchema = z.object({
  results: z.array(z.object({
    tenantId: z.uuid(),
    state: z.enum(['current', 'failed', 'skipped']),
    applied: z.array(z.string()).openapi({ description: 'Migrations applied by this call' }),
    error: z.string().nullable(),
  })),
}).openapi('MigrationBatchResult');

export const MigrationRevertResultSchema = z.object({
  results: z.array(z.object({
    tenantId: z.uuid(),
    state: z.enum(['reverted', 'failed', 'skipped']),
    reverted: z.array(z.string()),
    applied: z.string().nullable().openapi({ description: 'The newest migration the tenant still has' }),
    error: z.string().nullable(),
  })),
}).openapi('MigrationRevertResult');
