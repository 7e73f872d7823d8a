/** What the rules need of tenants from the control database: tier roots (SLO, remediation), effective rate and burst, quota use. */
import { db, type Sql } from '../control/db.js';
import type { TenantTerms } from './remediation.js';
import { QUOTA_CLEAR } from './rules.js';

export interface TenantInfo extends TenantTerms { id: string; slug: string; status: string }

/** The built-in root of every tier (a template's chain of `based_on`, cut at 50). */
export function tierRoots(tiers: { name: string; based_on: string | null; builtin: boolean }[]): Map<string, string | null> {
  const byName = new Map(tiers.map((t) => [t.name, t]));
  const roots = new Map<string, string | null>();
  for (const t of tiers) {
    let cur: typeof t | undefined = t;
    for (let i = 0; cur && !cur.builtin && i < 50; i++) cur = cur.based_on ? byName.get(cur.based_on) : undefined;
    roots.set(t.name, cur?.builtin ? cur.name : null);
  }
  return roots;
}

/** The tenants `ids` that exist, with their terms. */
export async function loadTenants(sql: Sql, ids: string[]): Promise<Map<string, TenantInfo>> {
  if (ids.length === 0) return new Map();
  const [tenants, tiers] = await db(() => sql.transaction([
    sql.query(`SELECT t.id, t.slug, t.tier, t.status, coalesce((t.overrides->>'rate_per_minute')::int, tr.rate_per_minute) AS rate,
                      coalesce((t.overrides->>'burst')::int, tr.burst) AS burst
                 FROM tenants t JOIN tiers tr ON tr.name = t.tier WHERE t.id = ANY($1::uuid[])`, [ids]),
    sql.query('SELECT name, based_on, builtin FROM tiers'),
  ], { readOnly: true })) as [{ id: string; slug: string; tier: string; status: string; rate: number; burst: number }[], { name: string; based_on: string | null; builtin: boolean }[]];
  const roots = tierRoots(tiers);
  return new Map(tenants.map((t) => [t.id, { id: t.id, slug: t.slug, status: t.status, tierRoot: roots.get(t.tier) ?? null, ratePerMinute: Number(t.rate), burst: Number(t.burst) }]));
}

/** Active tenants whose month's requests are at QUOTA_CLEAR of their included quota or more (at most 1000). */
export async function quotaUse(sql: Sql, month: string): Promise<{ tenantId: string; used: number; included: number; hardCap: boolean }[]> {
  const rows = await db(() => sql.query(
    `SELECT t.id, u.requests, coalesce((t.overrides->>'monthly_requests')::bigint, tr.monthly_requests) AS included,
            coalesce((t.overrides->>'hard_cap')::boolean, tr.hard_cap) AS hard_cap
       FROM tenants t JOIN tiers tr ON tr.name = t.tier JOIN tenant_usage u ON u.tenant_id = t.id AND u.month = $1
      WHERE t.status = 'active' AND u.requests >= $2::float8 * coalesce((t.overrides->>'monthly_requests')::bigint, tr.monthly_requests)
      ORDER BY t.id LIMIT 1000`, [month, QUOTA_CLEAR])) as { id: string; requests: string; included: string; hard_cap: boolean }[];
  return rows.map((r) => ({ tenantId: r.id, used: Number(r.requests), included: Number(r.included), hardCap: r.hard_cap === true }));
}
