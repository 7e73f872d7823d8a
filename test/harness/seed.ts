/**
 * Creates tenants directly in the control database and provisions their storage: the demo
 * tenants of `npm start` and the fixtures the tests need (custom issuers, geo policies, a
 * misplaced and a suspended tenant).
 */
import { withClient } from '../../src/provisioning/local-provisioner.js';
import type { Provisioner } from '../../src/provisioning/provisioner.js';
import type { Migration } from '../../src/migrations/runner.js';
import type { Isolation } from '../../src/tenancy/tenant.js';

export interface TenantSpec {
  slug: string;
  tier: string;
  region: string;
  residency?: string | null;
  status?: 'active' | 'suspended' | 'migrating';
  domains?: string[];
  jwt?: { issuer: string; audience: string; jwksUrl: string; claim?: string; algorithms?: string[] };
  geo?: { allowCountries?: string[]; blockCountries?: string[]; ipAllow?: string[] };
  /** Per-tenant overrides of tier limits (tenants.overrides). */
  overrides?: Record<string, number | boolean | string>;
}

export interface SeededTenant { id: string; slug: string; tier: string; region: string; isolation: Isolation; domains: string[] }

/** Inserts, provisions and activates one tenant. */
export async function createTenant(controlAdminUrl: string, provisioner: Provisioner, spec: TenantSpec): Promise<SeededTenant> {
  return withClient(controlAdminUrl, async (c) => {
    const { rows: [tier] } = await c.query<{ isolation: Isolation }>('SELECT isolation FROM tiers WHERE name = $1', [spec.tier]);
    if (!tier) throw new Error(`unknown tier ${spec.tier}`);
    const { rows: [t] } = await c.query<{ id: string }>(
      `INSERT INTO tenants (slug, name, tier, region, residency, isolation, status, overrides)
       VALUES ($1, $2, $3, $4, $5, $6, 'provisioning', $7) RETURNING id`,
      [spec.slug, spec.slug[0]!.toUpperCase() + spec.slug.slice(1), spec.tier, spec.region, spec.residency ?? null, tier.isolation,
        JSON.stringify(spec.overrides ?? {})]);
    const id = t!.id;
    const migrations = (await c.query<Migration>('SELECT name, sql FROM tenant_migration_catalog ORDER BY name')).rows;
    const p = await provisioner.provision({ tenantId: id, region: spec.region, isolation: tier.isolation, migrations });
    await c.query(
      `INSERT INTO tenant_placements (tenant_id, region, strategy, schema_name, role_name, database_name, connection_secret, external_ref)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [id, p.region, p.strategy, p.schemaName, p.roleName, p.databaseName, p.connectionSecret, p.externalRef]);
    await c.query("INSERT INTO tenant_migration_status (tenant_id, applied, state) VALUES ($1, $2, 'current')", [id, migrations.at(-1)?.name ?? null]);
    // Seeded domains are verified already (as if their Cloudflare custom hostnames were active).
    for (const d of spec.domains ?? []) await c.query("INSERT INTO tenant_domains (hostname, tenant_id, status, activated_at) VALUES ($1, $2, 'active', now())", [d, id]);
    if (spec.jwt) {
      const j = spec.jwt;
      await c.query('INSERT INTO tenant_jwt (tenant_id, issuer, audience, jwks_url, claim, algorithms) VALUES ($1, $2, $3, $4, $5, $6)',
        [id, j.issuer, j.audience, j.jwksUrl, j.claim ?? 'tid', j.algorithms ?? ['RS256', 'ES256']]);
    }
    if (spec.geo) {
      const g = spec.geo;
      await c.query('INSERT INTO tenant_geo (tenant_id, allow_countries, block_countries, ip_allow) VALUES ($1, $2, $3, $4::cidr[])',
        [id, g.allowCountries ?? [], g.blockCountries ?? [], g.ipAllow ?? []]);
    }
    await c.query('UPDATE tenants SET status = $2 WHERE id = $1', [id, spec.status ?? 'active']);
    return { id, slug: spec.slug, tier: spec.tier, region: spec.region, isolation: tier.isolation, domains: spec.domains ?? [] };
  });
}

/** The three demo tenants of `npm start`. */
export const DEMO_TENANTS: TenantSpec[] = [
  { slug: 'acme', tier: 'FREE', region: 'aws-us-east-2' },
  { slug: 'globex', tier: 'PREMIUM', region: 'aws-eu-central-1', residency: 'EU', domains: ['xn--bcher-kva.test'] },
  { slug: 'initech', tier: 'ENTERPRISE', region: 'aws-eu-central-1', residency: 'EU', domains: ['initech.test'] },
];

/**
 * Limits high enough that suites which are not about quotas never meet one (FREE allows a burst
 * of 20); the quota suites use the q-* tenants, whose limits are small on purpose.
 */
const ROOMY = { rate_per_minute: 600_000, burst: 10_000, concurrency: 1_000, monthly_requests: 100_000_000 };

/** The demo tenants as the tests see them, and the extra tenants the tests use. */
export function testTenants(idp: Record<string, { issuer: string; jwksUrl: string }>): TenantSpec[] {
  const a = idp['idp-a']!;
  const b = idp['idp-b']!;
  const roomy = (specs: TenantSpec[]) => specs.map((t) => ({ ...t, overrides: { ...ROOMY, ...t.overrides } }));
  return roomy([
    ...DEMO_TENANTS,
    { slug: 'umbrella', tier: 'STANDARD', region: 'aws-us-east-2',
      jwt: { issuer: a.issuer, audience: 'umbrella-api', jwksUrl: a.jwksUrl, claim: 'org', algorithms: ['ES256'] } },
    { slug: 'hooli', tier: 'STANDARD', region: 'aws-us-east-2',
      jwt: { issuer: b.issuer, audience: 'hooli-api', jwksUrl: b.jwksUrl, algorithms: ['RS256'] },
      geo: { blockCountries: ['KP', 'IR'] } },
    { slug: 'vandelay', tier: 'STANDARD', region: 'aws-eu-central-1', residency: 'EU',
      geo: { allowCountries: ['DE', 'FR'], ipAllow: ['203.0.113.0/24', '2001:db8::/32'] } },
    { slug: 'soylent', tier: 'PREMIUM', region: 'aws-eu-central-1', residency: 'EU' },
    { slug: 'wayne', tier: 'ENTERPRISE', region: 'aws-eu-central-1' },
    { slug: 'misplaced', tier: 'STANDARD', region: 'aws-us-east-2', residency: 'EU' },
    { slug: 'stark', tier: 'STANDARD', region: 'aws-us-east-2', status: 'suspended' },
    { slug: 'q-rate', tier: 'FREE', region: 'aws-us-east-2', overrides: { rate_per_minute: 60, burst: 5 } },
    { slug: 'q-month', tier: 'FREE', region: 'aws-us-east-2', overrides: { monthly_requests: 6 } },
    // Below 20 requests/s a tenant is served exactly (no leasing), which these two tests count on.
    { slug: 'q-overage', tier: 'STANDARD', region: 'aws-us-east-2', overrides: { monthly_requests: 3, rate_per_minute: 1000 } },
    { slug: 'q-conc', tier: 'STANDARD', region: 'aws-us-east-2', overrides: { concurrency: 2 } },
    { slug: 'q-meter', tier: 'STANDARD', region: 'aws-us-east-2', overrides: { rate_per_minute: 1000 } },
    // A busy tenant held at 300 requests/s (the benchmark's at-limit case; leases of 15).
    { slug: 'q-lease', tier: 'ENTERPRISE', region: 'aws-us-east-2', overrides: { rate_per_minute: 18_000, burst: 200, concurrency: 1000 } },
    { slug: 'q-eu', tier: 'STANDARD', region: 'aws-eu-central-1', residency: 'EU' },
    { slug: 'q-closed', tier: 'FREE', region: 'aws-us-east-2' },
    // Alone in the fault region: a small breaker so that the fault tests are quick.
    { slug: 'f-west', tier: 'STANDARD', region: 'aws-us-west-2',
      overrides: { breaker_failures: 3, breaker_window_seconds: 30, breaker_cooldown_seconds: 1 } },
  ]);
}
