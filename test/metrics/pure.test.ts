/** The metrics' pure parts: series from a request record, the exposition and its top-K fold, quantiles, shards; the test parser's strictness. */
import { describe, expect, it } from 'vitest';
import { newRecord } from '../../src/observability/request-record.js';
import { exposition, foldTopK } from '../../src/metrics/exposition.js';
import { addPoint, bucketOf, pointOf, type Counters } from '../../src/metrics/series.js';
import { quantile, summarize } from '../../src/metrics/summary.js';
import { METRICS_SHARDS, shardOf } from '../../src/metrics/shard.js';
import { analyticsPoint } from '../../src/metrics/analytics.js';
import { bucket, family, parsePrometheus, valueOf } from '../support/prometheus.js';

const trace = { traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', sampled: false } as never;
const tenant = { id: '7b0c7f34-9d7e-4b59-9a43-2d1b0e0f1a11', slug: 'acme', region: 'aws-eu-central-1', isolation: 'database' };

describe('series', () => {
  it('turns one request record into its counters', () => {
    const r = { ...newRecord(trace, 0), passed: ['tenant', 'auth'], cache: 'l2' as const, guard: 'refused:RATE_LIMITED' as const, breaker: null, dbCalls: 0 };
    const c: Counters = {};
    addPoint(c, pointOf(r, { tenant, method: 'GET', route: '/x', status: 429, code: 'RATE_LIMITED', totalMs: 30 }));
    expect(c).toEqual({ 'requests|class=4xx': 1, 'refusals|status=429,code=RATE_LIMITED': 1, 'latency_bucket|le=0.05': 1, latency_sum: 0.03, latency_count: 1, 'cache|level=l2': 1, 'guard|outcome=refused': 1 });
    const ok = { ...newRecord(trace, 0), cache: 'l1' as const, guard: 'fail-open' as const, breaker: 'closed' as const, dbCalls: 2 };
    addPoint(c, pointOf(ok, { tenant, method: 'GET', route: '/x', status: 200, code: null, totalMs: 20_000 }));
    expect(c['latency_bucket|le=+Inf']).toBe(1);
    expect(c['guard|outcome=fail_open']).toBe(1);
    expect(c['breaker|target=dedicated,state=closed']).toBe(1);
    expect(c.db_round_trips).toBe(2);
    expect(bucketOf(0.005)).toBe('0.005');
    expect(bucketOf(0.0051)).toBe('0.01');
    expect(analyticsPoint(pointOf(ok, { tenant, method: 'GET', route: '/x', status: 200, code: null, totalMs: 12.34 }))).toEqual({
      indexes: [tenant.id], blobs: ['acme', 'aws-eu-central-1', 'GET', '/x', '2xx', '', 'l1', 'fail-open', 'closed', 'dedicated'], doubles: [200, 12.3, 2, 0, 1],
    });
  });

  it('marks refusals under a tenant before authentication, and ranks tenants without them', () => {
    const c: Counters = {};
    addPoint(c, pointOf({ ...newRecord(trace, 0), passed: ['tenant'] }, { tenant, method: 'GET', route: '/x', status: 401, code: 'INVALID_TOKEN', totalMs: 1 }));
    addPoint(c, pointOf({ ...newRecord(trace, 0), passed: ['tenant', 'auth'] }, { tenant, method: 'GET', route: '/x', status: 403, code: 'FORBIDDEN', totalMs: 1 }));
    expect(c.unauthenticated).toBe(1);
    const none: Counters = {};
    addPoint(none, pointOf(newRecord(trace, 0), { tenant: null, method: 'GET', route: 'unmatched', status: 404, code: 'TENANT_NOT_FOUND', totalMs: 1 }));
    expect(none.unauthenticated).toBeUndefined();
    const ranked = foldTopK([
      { tenantId: 'x', slug: 'attacked', region: 'r', counters: { 'requests|class=4xx': 1000, unauthenticated: 1000 } },
      { tenantId: 'y', slug: 'busy', region: 'r', counters: { 'requests|class=2xx': 10 } },
    ], 1);
    expect([...ranked.values()].map((s) => s.tenant).sort()).toEqual(['busy', 'other']);
  });

  it('names requests refused before a tenant was known tenant none', () => {
    const p = pointOf(newRecord(trace, 0), { tenant: null, method: 'GET', route: 'unmatched', status: 400, code: 'INVALID_HOST', totalMs: 1 });
    expect([p.tenantId, p.slug, p.region]).toEqual(['none', 'none', 'none']);
  });
});

describe('exposition', () => {
  const totals: { tenantId: string; slug: string; region: string; counters: Counters }[] = [
    { tenantId: 'a', slug: 'big', region: 'r1', counters: { 'requests|class=2xx': 100, latency_count: 100, 'latency_bucket|le=0.01': 60, 'latency_bucket|le=0.1': 40, latency_sum: 3 } },
    { tenantId: 'b', slug: 'mid', region: 'r1', counters: { 'requests|class=2xx': 50, latency_count: 50, 'latency_bucket|le=0.01': 50, latency_sum: 0.2 } },
    { tenantId: 'c', slug: 'low', region: 'r1', counters: { 'requests|class=5xx': 5, latency_count: 5, 'latency_bucket|le=+Inf': 5, latency_sum: 60 } },
    { tenantId: 'none', slug: 'none', region: 'none', counters: { 'requests|class=4xx': 9, 'refusals|status=400,code=INVALID_HOST': 9, latency_count: 9, 'latency_bucket|le=0.005': 9, latency_sum: 0 } },
  ];

  it('keeps the top K by volume, folds the rest into other, and parses strictly', () => {
    expect([...foldTopK(totals, 1).values()].map((s) => s.tenant).sort()).toEqual(['big', 'none', 'other']);
    const fams = parsePrometheus(exposition(totals, { topK: 1, shardsUnavailable: 0 }));
    const req = family(fams, 'tenant_router_requests_total');
    expect(valueOf(req, { tenant: 'big', class: '2xx' })).toBe(100);
    expect(valueOf(req, { tenant: 'other', class: '2xx' })).toBe(50);
    expect(valueOf(req, { tenant: 'other', class: '5xx' })).toBe(5);
    expect(valueOf(req, { tenant: 'none', class: '4xx' })).toBe(9);
    const h = family(fams, 'tenant_router_request_duration_seconds').metrics.find((m) => m.labels.tenant === 'other')!;
    expect(bucket(h, '0.01')).toBe(50);
    expect(bucket(h, '+Inf')).toBe(55);
    expect(h.count).toBe('55');
    expect(Number(family(fams, 'tenant_router_metrics_tenants').metrics[0]!.value)).toBe(3);
  });

  it('estimates quantiles inside the buckets like histogram_quantile', () => {
    const s = summarize(totals[0]!.counters);
    // Rank 50 of 100 is in (0.005, 0.01] (60 there); rank 90 in (0.05, 0.1] (40 there, 60 below).
    expect(s.latency.p50).toBeCloseTo(0.005 + 0.005 * (50 / 60), 6);
    expect(s.latency.p90).toBeCloseTo(0.05 + 0.05 * (30 / 40), 6);
    expect(quantile(0.5, [{ le: 1, count: 0 }, { le: Infinity, count: 0 }])).toBeNull();
    expect(quantile(0.99, [{ le: 1, count: 1 }, { le: Infinity, count: 10 }])).toBe(1);
  });

  it('spreads tenants over every shard, the same in every isolate', () => {
    const hit = new Set(Array.from({ length: 200 }, () => shardOf(crypto.randomUUID())));
    expect(hit.size).toBe(METRICS_SHARDS);
    expect(shardOf('7b0c7f34-9d7e-4b59-9a43-2d1b0e0f1a11')).toBe(shardOf('7b0c7f34-9d7e-4b59-9a43-2d1b0e0f1a11'));
  });
});

describe('the test parser', () => {
  it('refuses what the text format does not allow', () => {
    const ok = '# HELP x_total h\n# TYPE x_total counter\nx_total{a="1"} 2\n';
    expect(parsePrometheus(ok)[0]).toEqual({ name: 'x_total', help: 'h', type: 'COUNTER', metrics: [{ labels: { a: '1' }, value: '2' }] });
    for (const bad of [
      'x_total 1\n',
      '# TYPE x_total counter\nx_total{a="1"} 2\nx_total{a="1"} 3\n',
      '# TYPE x_total counter\nx_total{a=1} 2\n',
      '# TYPE x_total counter\nx_total{a="1"} two\n',
      '# TYPE x_total counter\ny_total 1\n',
      '# TYPE h histogram\nh_bucket{a="1"} 1\n',
      '# TYPE x_total counter\nx_total 1\n# TYPE y gauge\ny 1\n# TYPE x_total counter\nx_total{b="2"} 1\n',
      '# TYPE x_total counter\nx_total 1',
    ]) expect(() => parsePrometheus(bad), bad).toThrow();
  });
});
