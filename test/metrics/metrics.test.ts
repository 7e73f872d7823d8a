/**
 * Metrics end to end in workerd, through the real pipeline: traffic for two tenants of this file
 * (200s, a 401 burst, 429s) is recorded from the request record, batched in the isolate, flushed to
 * the MetricsAggregator shards, scraped from the control worker's GET /admin/v1/metrics and parsed
 * with a Prometheus text parser; the tenant window; the top-K bound; a flush that cannot reach the
 * aggregator neither slows nor fails a request and is delivered once later; a restarted shard
 * keeps its totals and does not apply a batch twice.
 */
import { createExecutionContext, env, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { STALE_MS, type MetricsAggregator } from '../../src/metrics/aggregator.js';
import { exposition } from '../../src/metrics/exposition.js';
import type { BatchRow } from '../../src/metrics/batch.js';
import { shardName, shardOf } from '../../src/metrics/shard.js';
import { buildRouter } from '../../workers/router/index.js';
import { call as control, controlEnv } from '../control/in-process.js';
import { createViaApi, tokenFor, type CreatedTenant } from '../support/control.js';
import { workerEnv } from '../support/guards.js';
import { sqlAt, stack } from '../support/helpers.js';
import { bucket, family, parsePrometheus, samples, valueOf, type MetricFamily } from '../support/prometheus.js';

const ns = workerEnv.METRICS_AGGREGATOR!;
const withAggregator = (over: Record<string, string> = {}) => controlEnv({ METRICS_AGGREGATOR: ns, ...over });

type Point = { indexes?: string[]; blobs?: string[]; doubles?: number[] };
const points: Point[] = [];
const analytics = { writeDataPoint: (p: Point) => { points.push(p); } };
/** A router of this file's own (its own isolate batch), flushing at most every 300 ms. */
const app = buildRouter(undefined, { accessLog: null, metrics: { flushIntervalMs: 300 } });

async function send(host: string, path: string, token: string | null, bindings: Record<string, unknown> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = { host, ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const res = await app.fetch(new Request(`http://${host}${path}`, { headers }), { ...env, ANALYTICS: analytics, ...bindings }, ctx);
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  return new Response(body, { status: res.status, headers: res.headers });
}

async function scrape(over: Record<string, string> = {}): Promise<MetricFamily[]> {
  const res = await control(withAggregator(over), '/admin/v1/metrics');
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

/** What the router answered, per tenant: status → count, code → count. */
type Tally = { status: Record<number, number>; codes: Record<string, number>; total: number };
const tally = (): Tally => ({ status: {}, codes: {}, total: 0 });
async function note(t: Tally, res: Promise<Response>): Promise<number> {
  const r = await res;
  t.status[r.status] = (t.status[r.status] ?? 0) + 1;
  t.total++;
  if (r.status >= 400) {
    const code = ((await r.clone().json().catch(() => ({}))) as { error?: { code?: string } }).error?.code;
    if (code) t.codes[`${r.status} ${code}`] = (t.codes[`${r.status} ${code}`] ?? 0) + 1;
  }
  return r.status;
}

let a: CreatedTenant;
let b: CreatedTenant;
const ta = tally();
const tb = tally();

beforeAll(async () => {
  a = await createViaApi({ tier: 'STANDARD' });
  // A small bucket that refills once a minute: the fourth request is refused 429 RATE_LIMITED, however slow the machine.
  b = await createViaApi({ tier: 'STANDARD', overrides: { ratePerMinute: 1, burst: 3 } });
  const tokA = await tokenFor(a.id);
  const tokB = await tokenFor(b.id);
  for (let i = 0; i < 6; i++) expect(await note(ta, send(`${a.slug}.localhost`, '/api/v1/tracks', tokA))).toBe(200);
  // A 401 burst on A's host: bad tokens.
  for (let i = 0; i < 5; i++) expect(await note(ta, send(`${a.slug}.localhost`, '/api/v1/tracks', 'not-a-token'))).toBe(401);
  for (let i = 0; i < 5; i++) await note(tb, send(`${b.slug}.localhost`, '/api/v1/tracks', tokB));
  expect(tb.codes['429 RATE_LIMITED'] ?? 0).toBeGreaterThanOrEqual(1);
  expect(tb.status[200] ?? 0).toBeGreaterThanOrEqual(1);
  // Past the flush interval, one more request flushes whatever the isolate still holds.
  await new Promise((r) => setTimeout(r, 350));
  expect(await note(ta, send(`${a.slug}.localhost`, '/api/v1/tracks', null))).toBe(401);
}, 120_000);

describe('GET /admin/v1/metrics', () => {
  it('counts each tenant\'s requests by class and refusals by code, exactly', async () => {
    const fams = await scrape({ METRICS_TOP_TENANTS: '500' });
    const requests = family(fams, 'tenant_router_requests_total');
    expect(requests.type).toBe('COUNTER');
    expect(requests.help).toMatch(/status class/);
    const region = a.region;
    expect(valueOf(requests, { tenant: a.slug, region, class: '2xx' })).toBe(6);
    expect(valueOf(requests, { tenant: a.slug, region, class: '4xx' })).toBe(6);
    expect(valueOf(requests, { tenant: b.slug, region, class: '2xx' })).toBe(tb.status[200]);
    expect(valueOf(requests, { tenant: b.slug, region, class: '4xx' })).toBe(tb.status[429]);
    expect(samples(requests, { tenant: a.slug }).map((s) => s.labels.class).sort()).toEqual(['2xx', '4xx']);

    const refusals = family(fams, 'tenant_router_refusals_total');
    expect(valueOf(refusals, { tenant: a.slug, status: '401', code: 'INVALID_TOKEN' })).toBe(ta.codes['401 INVALID_TOKEN']);
    expect(ta.codes['401 INVALID_TOKEN']).toBe(5);
    expect(valueOf(refusals, { tenant: a.slug, status: '401', code: 'UNAUTHENTICATED' })).toBe(ta.codes['401 UNAUTHENTICATED']);
    expect(valueOf(refusals, { tenant: b.slug, status: '429', code: 'RATE_LIMITED' })).toBe(tb.codes['429 RATE_LIMITED']);
    expect(samples(refusals, { tenant: b.slug }).length).toBe(1);

    // The guard saw only authenticated requests; the breaker and the database only admitted ones.
    const guard = family(fams, 'tenant_router_guard_decisions_total');
    expect(valueOf(guard, { tenant: a.slug, outcome: 'admitted' })).toBe(6);
    expect(valueOf(guard, { tenant: b.slug, outcome: 'admitted' })).toBe(tb.status[200]);
    expect(valueOf(guard, { tenant: b.slug, outcome: 'refused' })).toBe(tb.status[429]);
    expect(valueOf(guard, { tenant: a.slug, outcome: 'fail_open' })).toBe(0);
    const breaker = family(fams, 'tenant_router_breaker_decisions_total');
    expect(valueOf(breaker, { tenant: a.slug, target: 'shared', state: 'closed' })).toBe(6);
    expect(valueOf(family(fams, 'tenant_router_db_round_trips_total'), { tenant: a.slug })).toBe(6);
    // Every request looked its tenant up once, at some cache level.
    const lookups = family(fams, 'tenant_router_tenant_lookups_total');
    expect(valueOf(lookups, { tenant: a.slug })).toBe(ta.total);
    for (const s of samples(lookups, { tenant: a.slug })) expect(['l1', 'l2', 'l3', 'joined']).toContain(s.labels.level);
    for (const f of fams) expect(f.name).toMatch(/^tenant_router_/);
    // The six 401s came before authentication: counted for A, and as such (kept out of its ranking).
    expect(valueOf(family(fams, 'tenant_router_unauthenticated_refusals_total'), { tenant: a.slug })).toBe(6);
    expect(samples(family(fams, 'tenant_router_unauthenticated_refusals_total'), { tenant: b.slug })).toEqual([]);
  });

  it('anonymous 401s under a tenant buy it no top-K label slot', async () => {
    const run = crypto.randomUUID().slice(0, 8);
    const minute = Math.floor(Date.now() / 60_000);
    // An attacked tenant: 10^12 refusals before authentication, no traffic of its own; a busy one below the top-K test's volumes.
    const attacked = { tenantId: crypto.randomUUID(), slug: `attacked-${run}`, region: 'aws-us-east-2', minute, counters: { 'requests|class=4xx': 1e12, 'refusals|status=401,code=INVALID_TOKEN': 1e12, unauthenticated: 1e12, latency_count: 1e12, 'latency_bucket|le=0.005': 1e12 } };
    const busy = { tenantId: crypto.randomUUID(), slug: `busy-${run}`, region: 'aws-us-east-2', minute, counters: { 'requests|class=2xx': 5e8, latency_count: 5e8, 'latency_bucket|le=0.005': 5e8 } };
    for (const r of [attacked, busy]) expect(await ns.get(ns.idFromName(shardName(shardOf(r.tenantId)))).ingest(`preauth-${run}-${r.tenantId}`, [r])).toBe(true);
    const fams = await scrape({ METRICS_TOP_TENANTS: '1' });
    const requests = family(fams, 'tenant_router_requests_total');
    expect(samples(requests, { tenant: busy.slug }).length).toBe(1);
    expect(samples(requests, { tenant: attacked.slug })).toEqual([]);
    // Still counted: within tenant="other".
    expect(valueOf(requests, { tenant: 'other', class: '4xx' })).toBeGreaterThanOrEqual(1e12);
  });

  it('five scrapes add at most one audit entry (metrics.reads), which counts them', async () => {
    const control0 = sqlAt(stack.control.postgresUrl);
    const from = Number(((await control0.query('SELECT coalesce(max(seq), 0) AS s FROM audit_log')) as { s: string }[])[0]!.s);
    // One isolate's worth of services, scraped five times (as Prometheus would, every 15 s), then a one-second window.
    const envOnce = withAggregator({ METRICS_AUDIT_WINDOW_SECONDS: '1' });
    for (let i = 0; i < 5; i++) expect((await control(envOnce, '/admin/v1/metrics')).status).toBe(200);
    const entries = async () => (await control0.query("SELECT action, entry FROM audit_log WHERE seq > $1 AND action IN ('metrics.scrape', 'metrics.reads', 'GET /metrics') ORDER BY seq", [from])) as { action: string; entry: string }[];
    const first = await entries();
    expect(first.length).toBeLessThanOrEqual(1);
    expect(first.map((e) => e.action)).toEqual(['metrics.reads']);
    // The four held back are written with the first call after the window.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await control(envOnce, '/admin/v1/tiers')).status).toBe(200);
    const all = await entries();
    expect(all).toHaveLength(2);
    const held = JSON.parse(all[1]!.entry) as { actor: string; detail: { total: number; byCall: Record<string, number> } };
    expect(held.actor).toBe('admin-token');
    expect(held.detail).toMatchObject({ total: 4, byCall: { 'metrics.scrape 200 by admin-token': 4 } });
  });

  it('has a latency histogram per tenant with monotonic buckets and _count equal to the requests', async () => {
    const fams = await scrape({ METRICS_TOP_TENANTS: '500' });
    const h = family(fams, 'tenant_router_request_duration_seconds');
    expect(h.type).toBe('HISTOGRAM');
    for (const [t, tl] of [[a, ta], [b, tb]] as const) {
      const [s] = samples(h, { tenant: t.slug, region: t.region });
      expect(s, t.slug).toBeDefined();
      const les = s!.buckets!.map((x) => x.le);
      expect(les).toEqual(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
      const counts = s!.buckets!.map((x) => Number(x.count));
      for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
      expect(counts.at(-1)).toBe(tl.total);
      expect(Number(s!.count)).toBe(tl.total);
      expect(Number(s!.sum)).toBeGreaterThanOrEqual(0);
    }
  });

  it('wrote one Analytics Engine data point per request, indexed by tenant', () => {
    const ofA = points.filter((p) => p.indexes?.[0] === a.id);
    expect(ofA.length).toBe(ta.total);
    expect(ofA.filter((p) => p.doubles?.[0] === 401).length).toBe(6);
    const ok = ofA.find((p) => p.doubles?.[0] === 200)!;
    expect(ok.blobs!.slice(0, 5)).toEqual([a.slug, a.region, 'GET', '/api/v1/tracks', '2xx']);
    expect(ok.blobs![7]).toBe('admitted');
    expect(ok.doubles![2]).toBe(1);
    expect(points.filter((p) => p.indexes?.[0] === b.id && p.blobs?.[5] === 'RATE_LIMITED').length).toBe(tb.status[429]);
  });

  it('refuses a caller without the admin credential (401), on both routes', async () => {
    for (const path of ['/admin/v1/metrics', `/admin/v1/tenants/${a.slug}/metrics`]) {
      const none = await control(withAggregator(), path, { token: null });
      expect(none.status).toBe(401);
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
      const bad = await control(withAggregator(), path, { token: 'x'.repeat(40) });
      expect(bad.status).toBe(401);
      expect(await bad.text()).not.toContain('tenant_router_');
    }
  });

  it('labels only the top K tenants by volume and sums the rest into tenant="other"', async () => {
    const run = crypto.randomUUID().slice(0, 8);
    const fakes = Array.from({ length: 12 }, (_, i) => ({ id: crypto.randomUUID(), slug: `topk-${run}-${i}`, volume: 1e9 + i * 1000 }));
    for (const f of fakes) {
      const row: BatchRow = { tenantId: f.id, slug: f.slug, region: 'aws-us-east-2', minute: Math.floor(Date.now() / 60_000), counters: { 'requests|class=2xx': f.volume, latency_count: f.volume, 'latency_bucket|le=0.005': f.volume } };
      expect(await ns.get(ns.idFromName(shardName(shardOf(f.id)))).ingest(`topk-${run}-${f.id}`, [row])).toBe(true);
    }
    const fams = await scrape({ METRICS_TOP_TENANTS: '5' });
    const requests = family(fams, 'tenant_router_requests_total');
    const labelled = new Set(requests.metrics.map((m) => m.labels.tenant).filter((t) => t !== 'other' && t !== 'none'));
    expect([...labelled].sort()).toEqual(fakes.slice(7).map((f) => f.slug).sort());
    const rest = fakes.slice(0, 7).reduce((n, f) => n + f.volume, 0);
    expect(valueOf(requests, { tenant: 'other' })).toBeGreaterThanOrEqual(rest + ta.total + tb.total);
    const h = family(fams, 'tenant_router_request_duration_seconds');
    expect(new Set(h.metrics.map((m) => m.labels.tenant)).size).toBeLessThanOrEqual(5 + 2);
    const other = samples(h, { tenant: 'other', region: 'aws-us-east-2' })[0]!;
    expect(Number(other.count)).toBe(bucket(other, '+Inf'));
    expect(Number(family(fams, 'tenant_router_metrics_tenants').metrics[0]!.value)).toBeGreaterThanOrEqual(14);
    expect(Number(family(fams, 'tenant_router_metrics_shards_unavailable').metrics[0]!.value)).toBe(0);
  });
});

describe('GET /admin/v1/tenants/{id}/metrics', () => {
  it('answers the tenant\'s counters and latency quantiles over the window', async () => {
    const res = await control(withAggregator(), `/admin/v1/tenants/${a.slug}/metrics?window=10`);
    expect(res.status, await res.clone().text()).toBe(200);
    const m = await res.json() as Record<string, any>;
    expect(m).toMatchObject({ tenantId: a.id, slug: a.slug, windowMinutes: 10, requests: { total: ta.total, byClass: { '2xx': 6, '4xx': 6 } }, dbRoundTrips: 6, guard: { admitted: 6 } });
    expect(m.refusals).toContainEqual({ status: 401, code: 'INVALID_TOKEN', count: 5 });
    expect(m.latency.count).toBe(ta.total);
    expect(m.latency.buckets.at(-1)).toEqual({ le: '+Inf', count: ta.total });
    expect(m.latency.p50).toBeGreaterThanOrEqual(0);
    expect(m.latency.p99).toBeGreaterThanOrEqual(m.latency.p50);
    expect(m.regions).toEqual([expect.objectContaining({ region: a.region, requests: { total: ta.total, byClass: { '2xx': 6, '4xx': 6 } } })]);
    expect(Date.parse(m.to) - Date.parse(m.from)).toBeLessThanOrEqual(10 * 60_000);
    expect((await control(withAggregator(), `/admin/v1/tenants/${a.id}/metrics?window=0`)).status).toBe(400);
    expect((await control(withAggregator(), '/admin/v1/tenants/no-such-tenant-here/metrics')).status).toBe(404);
  });

  it('answers 503 UPSTREAM_UNAVAILABLE without the aggregator binding', async () => {
    const res = await control(controlEnv(), `/admin/v1/tenants/${a.slug}/metrics`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UPSTREAM_UNAVAILABLE');
  });
});

describe('an aggregator that cannot be reached', () => {
  it('leaves its shards out of the scrape and says how many; the tenant window is 503', async () => {
    // What a binding to a router Worker that is not deployed does: every call throws.
    const absent = { idFromName: () => { throw new Error('no such script'); }, get: () => { throw new Error('no such script'); } } as unknown as DurableObjectNamespace<MetricsAggregator>;
    const over = { METRICS_AGGREGATOR: absent } as unknown as Record<string, string>;
    const res = await control(controlEnv(over), '/admin/v1/metrics');
    expect(res.status).toBe(200);
    const fams = parsePrometheus(await res.text());
    expect(Number(family(fams, 'tenant_router_metrics_shards_unavailable').metrics[0]!.value)).toBe(8);
    expect(family(fams, 'tenant_router_requests_total').metrics).toEqual([]);
    const one = await control(controlEnv(over), `/admin/v1/tenants/${a.slug}/metrics`);
    expect(one.status).toBe(503);
    expect(one.headers.get('retry-after')).toBe('5');
  });
});

describe('flushing', () => {
  it('never delays or fails a request when the aggregator hangs, and delivers the batch once afterwards', async () => {
    const t = await createViaApi({ tier: 'STANDARD' });
    const token = await tokenFor(t.id);
    const own = buildRouter(undefined, { accessLog: null, metrics: { flushIntervalMs: 0, flushTimeoutMs: 200 } });
    let down = true;
    const flaky = {
      idFromName: (n: string) => ns.idFromName(n),
      get: (id: DurableObjectId) => (down ? { ingest: () => new Promise(() => {}) } : ns.get(id)),
    } as unknown as DurableObjectNamespace<MetricsAggregator>;
    const once = async () => {
      const ctx = createExecutionContext();
      const t0 = Date.now();
      const res = await own.fetch(new Request(`http://${t.slug}.localhost/api/v1/tracks`, { headers: { host: `${t.slug}.localhost`, authorization: `Bearer ${token}` } }), { ...env, METRICS_AGGREGATOR: flaky }, ctx);
      await waitOnExecutionContext(ctx);
      return { status: res.status, ms: Date.now() - t0 };
    };
    for (let i = 0; i < 3; i++) {
      const r = await once();
      expect(r.status).toBe(200);
      // The request and its bounded flush (200 ms) together, far below a hung call's forever.
      expect(r.ms).toBeLessThan(3_000);
    }
    down = false;
    expect((await once()).status).toBe(200);
    const fams = await scrape({ METRICS_TOP_TENANTS: '500' });
    // The three parts that timed out were sent again under their ids with the fourth: four requests, once each.
    expect(valueOf(family(fams, 'tenant_router_requests_total'), { tenant: t.slug, class: '2xx' })).toBe(4);
  });
});

describe('MetricsAggregator', () => {
  it('retires tenants quiet for STALE_MS into the retired row, so totals stop growing and no exposed series goes down', async () => {
    const stub = ns.get(ns.idFromName(`prune-${crypto.randomUUID()}`));
    const minute = Math.floor(Date.now() / 60_000);
    const row = (tenantId: string, slug: string, n: number): BatchRow => ({ tenantId, slug, region: 'aws-us-east-2', minute, counters: { 'requests|class=2xx': n, latency_count: n } });
    const [gone, quiet, live] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    expect(await stub.ingest('p1', [row(gone, 'gone', 5), row(quiet, 'quiet', 4), row(live, 'live', 3), row('none', 'none', 2)])).toBe(true);
    // `gone` and `none` last seen eight days ago, `quiet` six.
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec('UPDATE seen SET at = ? WHERE tenant_id IN (?, ?)', Date.now() - STALE_MS - 86_400_000, gone, 'none');
      state.storage.sql.exec('UPDATE seen SET at = ? WHERE tenant_id = ?', Date.now() - STALE_MS + 86_400_000, quiet);
    });
    const before = await stub.totals();
    const scrape0 = (t: typeof before, k: number) => parsePrometheus(exposition(t, { topK: k, shardsUnavailable: 0 }));
    expect(await stub.prune()).toBe(1);
    expect(await stub.prune()).toBe(0);
    const after = await stub.totals();
    expect(after.map((t) => t.tenantId).sort()).toEqual([live, quiet, 'none', 'retired'].sort());
    expect(after.find((t) => t.tenantId === 'retired')!.counters).toEqual({ 'requests|class=2xx': 5, latency_count: 5 });
    for (const k of [0, 1, 3]) {
      const [b0, a0] = [family(scrape0(before, k), 'tenant_router_requests_total'), family(scrape0(after, k), 'tenant_router_requests_total')];
      // Every series still exposed after the retirement is at least what it was: counters never go down.
      for (const m of a0.metrics) {
        const was = b0.metrics.find((x) => JSON.stringify(x.labels) === JSON.stringify(m.labels));
        if (was) expect(Number(m.value), `${k} ${JSON.stringify(m.labels)}`).toBeGreaterThanOrEqual(Number(was.value));
      }
      expect(samples(a0, { tenant: 'gone' })).toEqual([]);
    }
    // The gauge of tenants held no longer counts the retired one (nor the retired row).
    expect(Number(family(scrape0(after, 3), 'tenant_router_metrics_tenants').metrics[0]!.value)).toBe(2);
  });

  it('keeps its totals across a restart and applies a batch id once', async () => {
    const tenantId = crypto.randomUUID();
    const name = shardName(shardOf(tenantId));
    let stub = ns.get(ns.idFromName(name));
    const row: BatchRow = { tenantId, slug: `restart-${tenantId.slice(0, 8)}`, region: 'aws-eu-central-1', minute: Math.floor(Date.now() / 60_000), counters: { 'requests|class=2xx': 7, latency_count: 7 } };
    const id = `test:${tenantId}`;
    expect(await stub.ingest(id, [row])).toBe(true);
    await runInDurableObject(stub, (_i, state) => { state.abort('test restart'); }).catch(() => {});
    stub = ns.get(ns.idFromName(name));
    // The isolate never heard back, so it sends the same part again: applied once.
    expect(await stub.ingest(id, [row])).toBe(false);
    expect(await stub.ingest(`${id}:2`, [{ ...row, counters: { 'requests|class=5xx': 1 } }])).toBe(true);
    const mine = (await stub.totals()).filter((t: { tenantId: string }) => t.tenantId === tenantId);
    expect(mine).toEqual([{ tenantId, slug: row.slug, region: 'aws-eu-central-1', counters: { 'requests|class=2xx': 7, latency_count: 7, 'requests|class=5xx': 1 } }]);
    const w = await stub.window(tenantId, 1);
    expect(w).toEqual([{ region: 'aws-eu-central-1', counters: { 'requests|class=2xx': 7, latency_count: 7, 'requests|class=5xx': 1 } }]);
  });
});
