/**
 * Prometheus text exposition (format 0.0.4) of the aggregators' totals (pure). Label values are
 * bounded: the `topK` tenants by request volume keep their slug, every other tenant is summed
 * into `tenant="other"` (so are the tenants the aggregator retired), and requests refused before
 * any tenant was known are `tenant="none"`. The ranking leaves out refusals before authentication.
 */
import type { TenantTotals } from './aggregator.js';
import { addCounters, LATENCY_BUCKETS, NO_TENANT, parseKey, RETIRED_TENANT, type Counters } from './series.js';

export const OTHER_TENANT = 'other';

interface Family { name: string; type: 'counter' | 'histogram' | 'gauge'; help: string }

/** Series key metric → family. */
const FAMILIES: Record<string, Family> = {
  requests: { name: 'tenant_router_requests_total', type: 'counter', help: 'Requests answered, by status class.' },
  refusals: { name: 'tenant_router_refusals_total', type: 'counter', help: 'Error responses, by status and error code (429 by reason, 401/403, 451, 503, ...).' },
  latency: { name: 'tenant_router_request_duration_seconds', type: 'histogram', help: 'Time from the request reaching the router to its answer.' },
  cache: { name: 'tenant_router_tenant_lookups_total', type: 'counter', help: 'Tenant lookups, by the cache level that answered (l1 isolate, l2 Upstash, l3 control database, joined).' },
  guard: { name: 'tenant_router_guard_decisions_total', type: 'counter', help: 'Quota guard verdicts: admitted, refused, fail_open, fail_closed.' },
  breaker: { name: 'tenant_router_breaker_decisions_total', type: 'counter', help: 'Circuit breaker verdicts per database target (shared: the region\'s, dedicated: the tenant\'s own): closed, probe, open, unreachable.' },
  db_round_trips: { name: 'tenant_router_db_round_trips_total', type: 'counter', help: 'Round trips to tenant databases.' },
  unauthenticated: { name: 'tenant_router_unauthenticated_refusals_total', type: 'counter', help: 'Requests refused under a tenant before authentication (also in requests and refusals; never in the top-K ranking).' },
};

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (labels: [string, string][]) => `{${labels.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
const num = (v: number) => (Number.isInteger(v) ? String(v) : String(Math.round(v * 1e6) / 1e6));

/**
 * Request volume of a tenant's counters, as the top-K ranks it: its requests less those refused
 * before authentication, which anyone can send under any tenant (they would buy label slots).
 */
export const volumeOf = (c: Counters) => Object.entries(c).reduce((n, [k, v]) => (k.startsWith('requests|') ? n + v : n), 0) - (c.unauthenticated ?? 0);

/** Totals folded to bounded labels: (tenant label, region) → counters; the top-K slugs by volume keep their own. */
export function foldTopK(totals: TenantTotals[], topK: number): Map<string, { tenant: string; region: string; counters: Counters }> {
  const volume = new Map<string, number>();
  for (const t of totals) if (t.tenantId !== NO_TENANT && t.tenantId !== RETIRED_TENANT) volume.set(t.slug, (volume.get(t.slug) ?? 0) + volumeOf(t.counters));
  const kept = new Set([...volume].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, topK).map(([s]) => s));
  const out = new Map<string, { tenant: string; region: string; counters: Counters }>();
  for (const t of totals) {
    const tenant = t.tenantId === NO_TENANT ? NO_TENANT : t.tenantId !== RETIRED_TENANT && kept.has(t.slug) ? t.slug : OTHER_TENANT;
    const key = `${tenant}\n${t.region}`;
    let acc = out.get(key);
    if (!acc) { acc = { tenant, region: t.region, counters: {} }; out.set(key, acc); }
    addCounters(acc.counters, t.counters);
  }
  return out;
}

/** The exposition text: HELP and TYPE for every family, then its series. */
export function exposition(totals: TenantTotals[], opts: { topK: number; shardsUnavailable: number }): string {
  const folded = [...foldTopK(totals, opts.topK).values()].sort((a, b) => (a.tenant + a.region < b.tenant + b.region ? -1 : 1));
  const lines: string[] = [];
  for (const [metric, f] of Object.entries(FAMILIES)) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of folded) {
      const base: [string, string][] = [['tenant', s.tenant], ['region', s.region]];
      if (metric === 'latency') {
        if (!s.counters.latency_count) continue;
        let cum = 0;
        for (const le of [...LATENCY_BUCKETS.map(String), '+Inf']) {
          cum += s.counters[`latency_bucket|le=${le}`] ?? 0;
          lines.push(`${f.name}_bucket${labelText([...base, ['le', le]])} ${num(cum)}`);
        }
        lines.push(`${f.name}_sum${labelText(base)} ${num(s.counters.latency_sum ?? 0)}`, `${f.name}_count${labelText(base)} ${num(s.counters.latency_count)}`);
        continue;
      }
      for (const [key, v] of Object.entries(s.counters).sort()) {
        const { metric: m, labels } = parseKey(key);
        if (m === metric) lines.push(`${f.name}${labelText([...base, ...labels])} ${num(v)}`);
      }
    }
  }
  const tenants = new Set(totals.filter((t) => t.tenantId !== NO_TENANT && t.tenantId !== RETIRED_TENANT).map((t) => t.tenantId)).size;
  lines.push('# HELP tenant_router_metrics_tenants Tenants the aggregators hold counters for (all of them, not only the labelled top K).',
    '# TYPE tenant_router_metrics_tenants gauge', `tenant_router_metrics_tenants ${tenants}`,
    '# HELP tenant_router_metrics_shards_unavailable Aggregator shards that did not answer this scrape (their tenants are missing from it).',
    '# TYPE tenant_router_metrics_shards_unavailable gauge', `tenant_router_metrics_shards_unavailable ${opts.shardsUnavailable}`);
  return lines.join('\n') + '\n';
}
