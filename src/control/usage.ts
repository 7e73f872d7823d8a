/**
 * Usage and the invoice preview. Usage is what the tenants' TenantGuards flushed to
 * `usage_flushes` (exact admitted request units per month, one row per guard state, "source"),
 * read through the `tenant_usage` view, which sums a tenant's sources (migration 0004). It
 * outlives the tenant: a deleted tenant's unbilled month stays billable. The preview prices it
 * with the tenant's template: the monthly price covers the included requests, overage is charged
 * per started thousand. Hard-capped tiers have no overage: the guard refuses past the quota.
 * Bandwidth (body bytes of admitted requests and their responses, metered by the same guards)
 * and storage (the last measurement, src/storage/) are shown beside it; tiers price neither.
 */
import { db, type Sql } from './db.js';

export interface Pricing { monthlyCents: number; overageCentsPer1k: number }

/** The invoice for `requests` under a template (pure). */
export function invoicePreview(requests: number, included: number, hardCap: boolean, pricing: Pricing) {
  const overage = hardCap ? 0 : Math.max(0, requests - included);
  const overageCents = Math.ceil(overage / 1000) * pricing.overageCentsPer1k;
  return { overage, baseCents: pricing.monthlyCents, overageCents, totalCents: pricing.monthlyCents + overageCents };
}

/** The current month in UTC as YYYY-MM. */
export const monthOf = (ms: number): string => new Date(ms).toISOString().slice(0, 7);

/** A month of usage: request units and body bytes (bandwidth) of requests and responses. */
export interface MonthUsage { month: string; requests: number; requestBytes: number; responseBytes: number }

/** Usage of a tenant per month (summed over its sources), newest first (at most 24 months). */
export async function usageHistory(sql: Sql, tenantId: string): Promise<MonthUsage[]> {
  const rows = await db(() => sql.query(
    'SELECT month, requests, request_bytes, response_bytes FROM tenant_usage WHERE tenant_id = $1 ORDER BY month DESC LIMIT 24', [tenantId])) as
    { month: string; requests: string; request_bytes: string; response_bytes: string }[];
  return rows.map((r) => ({ month: r.month, requests: Number(r.requests), requestBytes: Number(r.request_bytes), responseBytes: Number(r.response_bytes) }));
}

/** The effective included requests, hard cap and pricing of a tenant (template + overrides). */
export async function billingTerms(sql: Sql, tenantId: string) {
  const rows = await db(() => sql.query(
    `SELECT t.tier, coalesce((t.overrides->>'monthly_requests')::bigint, tr.monthly_requests) AS included,
            coalesce((t.overrides->>'hard_cap')::boolean, tr.hard_cap) AS hard_cap, tr.price_cents_month, tr.overage_cents_per_1k
       FROM tenants t JOIN tiers tr ON tr.name = t.tier WHERE t.id = $1`, [tenantId])) as Record<string, string | boolean>[];
  const r = rows[0]!;
  return {
    tier: String(r.tier), included: Number(r.included), hardCap: r.hard_cap === true,
    pricing: { monthlyCents: Number(r.price_cents_month), overageCentsPer1k: Number(r.overage_cents_per_1k) },
  };
}
