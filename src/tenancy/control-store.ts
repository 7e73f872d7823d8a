/**
 * L3: the control Postgres, read over Neon's HTTP protocol in one query per lookup. Each lookup
 * kind has its own fixed query text; the key is always a bound parameter. Every query is aborted
 * after a timeout (3 s): a control database that hangs is a 503 like one that is down, not a
 * request that waits as long as the platform lets it.
 */
import { neon } from '@neondatabase/serverless';
import { TenantSchema, type LookupKey, type Tenant } from './tenant.js';
import type { TenantStore } from './directory.js';
import { toAppError } from '../data/db-errors.js';

const RECORD = `
SELECT json_build_object(
  'id', t.id, 'slug', t.slug, 'name', t.name, 'status', t.status, 'version', t.version,
  'region', t.region, 'residency', t.residency, 'guardJurisdiction', t.guard_jurisdiction, 'isolation', t.isolation,
  'tier', to_jsonb(tr) || t.overrides,
  'jwt', (SELECT json_build_object('issuer', j.issuer, 'audience', j.audience, 'jwksUrl', j.jwks_url,
            'claim', j.claim, 'algorithms', j.algorithms) FROM tenant_jwt j WHERE j.tenant_id = t.id),
  'geo', (SELECT json_build_object('allowCountries', g.allow_countries, 'blockCountries', g.block_countries,
            'ipAllow', g.ip_allow::text[]) FROM tenant_geo g WHERE g.tenant_id = t.id),
  'placement', (SELECT json_build_object('region', p.region, 'strategy', p.strategy, 'schemaName', p.schema_name,
            'roleName', p.role_name, 'databaseName', p.database_name, 'connectionSecret', p.connection_secret)
            FROM tenant_placements p WHERE p.tenant_id = t.id),
  'proxy', t.proxy,
  -- The data key, wrapped under MASTER_KEY (migration 0013, src/tenant-keys/).
  'dataKey', (SELECT k.wrapped FROM tenant_keys k WHERE k.tenant_id = t.id),
  -- Over the (overridden) storage limit by the last measurement (migration 0009, src/storage/).
  'storageExceeded', coalesce((SELECT s.bytes > coalesce((t.overrides->>'storage_mb')::bigint, tr.storage_mb) * 1048576
            FROM tenant_storage s WHERE s.tenant_id = t.id), false)
) AS tenant
FROM tenants t JOIN tiers tr ON tr.name = t.tier
WHERE t.status <> 'deleting' AND `;

const WHERE: Record<LookupKey['kind'], string> = {
  slug: 't.slug = $1',
  // Only a verified custom hostname (migration 0006): a pending or failed one is unknown, and cached as such.
  domain: "t.id = (SELECT tenant_id FROM tenant_domains WHERE hostname = $1 AND status = 'active')",
  id: 't.id = $1::uuid',
  issuer: 't.id = (SELECT tenant_id FROM tenant_jwt WHERE issuer = $1)',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads tenants from the control database at `url`, each query aborted after `timeoutMs`. */
export class ControlStore implements TenantStore {
  private readonly sql;
  constructor(url: string, private readonly timeoutMs = 3000) { this.sql = neon(url); }

  async find(key: LookupKey): Promise<Tenant | null> {
    // A malformed id is unknown by definition; do not spend a round trip (or a cast error) on it.
    if (key.kind === 'id' && !UUID.test(key.value)) return null;
    let rows: { tenant: unknown }[];
    try {
      // Per query, so each gets its own deadline (the driver spreads fetchOptions into its fetch).
      const fetchOptions = { signal: AbortSignal.timeout(this.timeoutMs) };
      rows = await this.sql.query(RECORD + WHERE[key.kind], [key.value], { fetchOptions }) as { tenant: unknown }[];
    } catch (err) {
      // Without the control database (down, or too slow) no tenant can be resolved: a clean 503, never a 500.
      throw toAppError(err);
    }
    return rows[0] ? TenantSchema.parse(rows[0].tenant) : null;
  }
}
