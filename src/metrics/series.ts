/**
 * What one request adds to the metrics (pure): the point taken from the request record the
 * access log is written from, and the counters it increments. A tenant's counters are a flat map
 * `series key → value`, the key a metric and its one extra label (`requests|class=2xx`), so
 * isolates, the aggregator and the exposition add them up without knowing each metric.
 */
import type { RequestRecord } from '../observability/request-record.js';

/** Upper bounds of the latency histogram, in seconds (Prometheus' defaults): fixed, so every isolate's counts add up. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** The tenant of requests refused before a tenant was known (bad host, unknown tenant). */
export const NO_TENANT = 'none';
/** The aggregator's row of retired tenants' totals (tenants quiet for a week), exposed within `other`. */
export const RETIRED_TENANT = 'retired';

export type Counters = Record<string, number>;

/** One request, as metrics see it. */
export interface MetricPoint {
  tenantId: string;
  slug: string;
  region: string;
  /** `shared` (the region's database, breaker `db:<region>`) or `dedicated` (the tenant's own, `db:<id>`). */
  target: 'shared' | 'dedicated';
  method: string;
  route: string;
  status: number;
  code: string | null;
  latencyMs: number;
  record: RequestRecord;
}

export interface PointTenant { id: string; slug: string; region: string; isolation?: string; placement?: { region: string } | null }

/** The point of one request: the tenant as the pipeline resolved it (none before that). */
export function pointOf(record: RequestRecord, f: { tenant: PointTenant | null; method: string; route: string; status: number; code: string | null; totalMs: number }): MetricPoint {
  const t = f.tenant;
  return {
    tenantId: t?.id ?? NO_TENANT, slug: t?.slug ?? NO_TENANT, region: t ? t.placement?.region ?? t.region : NO_TENANT,
    target: t?.isolation === 'database' ? 'dedicated' : 'shared',
    method: f.method, route: f.route, status: f.status, code: f.code, latencyMs: f.totalMs, record,
  };
}

/** `2xx` … `5xx`. */
export const statusClass = (status: number): string => `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx`;

/** The bucket a latency falls in (its upper bound, `+Inf` past the last). */
export function bucketOf(seconds: number): string {
  for (const le of LATENCY_BUCKETS) if (seconds <= le) return String(le);
  return '+Inf';
}

/** The guard's verdict as a label value: admitted, refused, fail_open, fail_closed. */
export function guardLabel(g: RequestRecord['guard']): string | null {
  if (g === null) return null;
  if (g.startsWith('refused:')) return 'refused';
  return g.replace('-', '_');
}

const inc = (c: Counters, key: string, by = 1) => { c[key] = (c[key] ?? 0) + by; };

/**
 * Whether `p` was refused under a tenant before its caller was authenticated (a bad or missing
 * token on the tenant's host, or a token whose unverified issuer named the tenant): anyone can
 * send those under any tenant that exists, so they count for the tenant but not for its rank.
 */
export const preAuthRefusal = (p: MetricPoint): boolean => p.tenantId !== NO_TENANT && p.status >= 400 && !p.record.passed.includes('auth');

/** Adds one request to `c`. */
export function addPoint(c: Counters, p: MetricPoint): void {
  const r = p.record;
  inc(c, `requests|class=${statusClass(p.status)}`);
  if (preAuthRefusal(p)) inc(c, 'unauthenticated');
  if (p.status >= 400 && p.code) inc(c, `refusals|status=${p.status},code=${p.code}`);
  const seconds = Math.max(0, p.latencyMs) / 1000;
  inc(c, `latency_bucket|le=${bucketOf(seconds)}`);
  inc(c, 'latency_sum', seconds);
  inc(c, 'latency_count');
  if (r.cache) inc(c, `cache|level=${r.cache}`);
  const guard = guardLabel(r.guard);
  if (guard) inc(c, `guard|outcome=${guard}`);
  if (r.breaker) inc(c, `breaker|target=${p.target},state=${r.breaker}`);
  if (r.dbCalls > 0) inc(c, 'db_round_trips', r.dbCalls);
}

/** Adds `from` into `into`. */
export function addCounters(into: Counters, from: Counters): void {
  for (const [k, v] of Object.entries(from)) inc(into, k, v);
}

/** The metric and its labels of a series key: `refusals|status=429,code=RATE_LIMITED` → refusals, {status, code}. */
export function parseKey(key: string): { metric: string; labels: [string, string][] } {
  const bar = key.indexOf('|');
  if (bar < 0) return { metric: key, labels: [] };
  const labels = key.slice(bar + 1).split(',').map((kv) => { const eq = kv.indexOf('='); return [kv.slice(0, eq), kv.slice(eq + 1)] as [string, string]; });
  return { metric: key.slice(0, bar), labels };
}
