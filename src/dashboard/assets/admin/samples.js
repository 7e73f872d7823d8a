// Live series from successive reads of GET /admin/v1/tenants/{id}/metrics (pure).
// Each read is the counters of the trailing window; the difference of two reads is what happened
// between them (clamped at 0: a minute leaving the window can make a counter smaller).

const pos = (v) => (v > 0 ? v : 0);

/** The `q` quantile of a cumulative histogram [{ le, count }] (as histogram_quantile), in seconds. */
export function quantile(q, buckets) {
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0; let prevCount = 0;
  for (const b of buckets) {
    const le = b.le === '+Inf' ? Infinity : Number(b.le);
    if (b.count >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket === 0 ? le : prevLe + (le - prevLe) * ((rank - prevCount) / inBucket);
    }
    prevLe = le; prevCount = b.count;
  }
  return prevLe;
}

/** One sample from reads `a` then `b` taken at times ta < tb (ms): rates per second, error shares in %, latency in ms. */
export function sampleBetween(a, ta, b, tb) {
  const dt = (tb - ta) / 1000;
  const requests = pos(b.requests.total - a.requests.total);
  const cls = (k) => pos((b.requests.byClass[k] ?? 0) - (a.requests.byClass[k] ?? 0));
  const buckets = b.latency.buckets.map((x, i) => ({ le: x.le, count: pos(x.count - (a.latency.buckets[i]?.count ?? 0)) }));
  const q = (p) => { const v = quantile(p, buckets); return v === null ? null : v * 1000; };
  return {
    t: tb, requests, rate: dt > 0 ? requests / dt : 0,
    errors4xx: requests ? (100 * cls('4xx')) / requests : 0, errors5xx: requests ? (100 * cls('5xx')) / requests : 0,
    p50: q(0.5), p90: q(0.9), p99: q(0.99),
  };
}
