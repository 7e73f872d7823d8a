/**
 * What the rules look at (pure): the delta of a tenant's counters between two reads of the
 * aggregator's totals, and the signals of one interval read from it (request count, 5xx,
 * 401/403 and 429 counts, p95 latency, breaker-open and guard fail-open verdicts, rare refusals).
 */
import { quantile } from '../metrics/summary.js';
import { LATENCY_BUCKETS, parseKey, type Counters } from '../metrics/series.js';

/**
 * Refusals that are rare in normal traffic and say something about an attacker or a
 * misconfiguration: audited per tenant in aggregated form (one entry per tenant and run).
 */
export const RARE_REFUSALS: ReadonlySet<string> = new Set([
  'TENANT_MISMATCH', 'RESIDENCY_VIOLATION', 'GEO_BLOCKED', 'IP_NOT_ALLOWED', 'FORBIDDEN', 'INVALID_PATH',
]);

/** 5xx answers an operator chose (a suspended or migrating tenant): not errors of the platform. */
const DELIBERATE_5XX: ReadonlySet<string> = new Set(['TENANT_SUSPENDED', 'TENANT_MIGRATING']);

/**
 * `cur - prev` key by key; null when a counter went down (the aggregator's state was lost: its
 * totals restarted), since such a delta means nothing. Keys at 0 are left out.
 */
export function deltaOf(cur: Counters, prev: Counters): Counters | null {
  const out: Counters = {};
  for (const [k, v] of Object.entries(cur)) {
    const d = v - (prev[k] ?? 0);
    if (d < -1e-9) return null;
    if (d > 1e-9) out[k] = d;
  }
  for (const k of Object.keys(prev)) if (!(k in cur) && prev[k]! > 0) return null;
  return out;
}

/** One interval's signals. */
export interface Signals {
  requests: number;
  /** 5xx answers, without the deliberate ones (TENANT_SUSPENDED, TENANT_MIGRATING). */
  errors5xx: number;
  /** 401 and 403 refusals (bad or foreign credentials). */
  authFailures: number;
  /** 429 refusals (rate, quota, concurrency). */
  limited: number;
  /** Seconds; null without requests. */
  p95: number | null;
  breakerOpen: { shared: number; dedicated: number };
  failOpen: number;
  /** Rare refusal code → count. */
  rare: Record<string, number>;
}

/** The signals of a delta. */
export function signalsOf(d: Counters): Signals {
  const s: Signals = { requests: 0, errors5xx: 0, authFailures: 0, limited: 0, p95: null, breakerOpen: { shared: 0, dedicated: 0 }, failOpen: 0, rare: {} };
  let deliberate = 0;
  for (const [key, v] of Object.entries(d)) {
    const { metric, labels } = parseKey(key);
    const l = Object.fromEntries(labels);
    if (metric === 'requests') {
      s.requests += v;
      if (l.class === '5xx') s.errors5xx += v;
    } else if (metric === 'refusals') {
      if (l.status === '401' || l.status === '403') s.authFailures += v;
      if (l.status === '429') s.limited += v;
      if (l.code && RARE_REFUSALS.has(l.code)) s.rare[l.code] = (s.rare[l.code] ?? 0) + v;
      if (l.code && DELIBERATE_5XX.has(l.code)) deliberate += v;
    } else if (metric === 'breaker' && l.state === 'open') {
      if (l.target === 'dedicated') s.breakerOpen.dedicated += v; else s.breakerOpen.shared += v;
    } else if (metric === 'guard' && l.outcome === 'fail_open') s.failOpen += v;
  }
  s.errors5xx = Math.max(0, s.errors5xx - deliberate);
  s.p95 = p95Of(d);
  return s;
}

/** The 95th percentile latency of a delta's histogram, in seconds (null without requests). */
export function p95Of(d: Counters): number | null {
  let cum = 0;
  const cumulative = [...LATENCY_BUCKETS.map(String), '+Inf'].map((le) => {
    cum += d[`latency_bucket|le=${le}`] ?? 0;
    return { le: le === '+Inf' ? Infinity : Number(le), count: cum };
  });
  return quantile(0.95, cumulative);
}

/** The sum of several deltas (a tenant over its regions, a region over its tenants). */
export function sumCounters(parts: Counters[]): Counters {
  const out: Counters = {};
  for (const p of parts) for (const [k, v] of Object.entries(p)) out[k] = (out[k] ?? 0) + v;
  return out;
}
