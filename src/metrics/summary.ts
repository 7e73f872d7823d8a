/** A tenant's counters over a window as the admin API answers them (pure), with latency quantiles estimated from the histogram. */
import { LATENCY_BUCKETS, parseKey, type Counters } from './series.js';

export interface MetricsSummary {
  requests: { total: number; byClass: Record<string, number> };
  refusals: { status: number; code: string; count: number }[];
  latency: { count: number; sumSeconds: number; p50: number | null; p90: number | null; p99: number | null; buckets: { le: string; count: number }[] };
  cache: Record<string, number>;
  guard: Record<string, number>;
  breaker: { target: string; state: string; count: number }[];
  dbRoundTrips: number;
}

/**
 * The `q` quantile, interpolated linearly inside its bucket as Prometheus' histogram_quantile
 * does (the first bucket starts at 0; past the last bound the answer is that bound).
 */
export function quantile(q: number, cumulative: { le: number; count: number }[]): number | null {
  const total = cumulative.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of cumulative) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket === 0 ? b.le : prevLe + (b.le - prevLe) * ((rank - prevCount) / inBucket);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

const round = (v: number | null) => (v === null ? null : Math.round(v * 1e6) / 1e6);

/** The summary of `c` (one tenant, all regions added up). */
export function summarize(c: Counters): MetricsSummary {
  const s: MetricsSummary = {
    requests: { total: 0, byClass: {} }, refusals: [],
    latency: { count: c.latency_count ?? 0, sumSeconds: round(c.latency_sum ?? 0)!, p50: null, p90: null, p99: null, buckets: [] },
    cache: {}, guard: {}, breaker: [], dbRoundTrips: c.db_round_trips ?? 0,
  };
  for (const [key, v] of Object.entries(c).sort()) {
    const { metric, labels } = parseKey(key);
    const l = Object.fromEntries(labels);
    if (metric === 'requests') { s.requests.byClass[l.class!] = v; s.requests.total += v; }
    else if (metric === 'refusals') s.refusals.push({ status: Number(l.status), code: l.code!, count: v });
    else if (metric === 'cache') s.cache[l.level!] = v;
    else if (metric === 'guard') s.guard[l.outcome!] = v;
    else if (metric === 'breaker') s.breaker.push({ target: l.target!, state: l.state!, count: v });
  }
  let cum = 0;
  const cumulative = [...LATENCY_BUCKETS.map(String), '+Inf'].map((le) => {
    cum += c[`latency_bucket|le=${le}`] ?? 0;
    return { le: Number(le === '+Inf' ? Infinity : le), label: le, count: cum };
  });
  s.latency.buckets = cumulative.map((b) => ({ le: b.label, count: b.count }));
  s.latency.p50 = round(quantile(0.5, cumulative));
  s.latency.p90 = round(quantile(0.9, cumulative));
  s.latency.p99 = round(quantile(0.99, cumulative));
  return s;
}
