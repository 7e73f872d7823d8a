/**
 * /admin/v1/metrics (Prometheus text, every tenant's totals, top K by volume labelled) and
 * /admin/v1/tenants/{id}/metrics (one tenant's counters and latency quantiles over a window).
 * Both read the router's sharded MetricsAggregator through the METRICS_AGGREGATOR binding
 * (docs/metrics.md); they are admin routes (authenticated), audited in one `metrics.reads` summary per
 * window and isolate rather than one entry per read (middleware.ts).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { AppError } from '../../errors.js';
import { WINDOW_MINUTES } from '../../metrics/aggregator.js';
import { exposition } from '../../metrics/exposition.js';
import { readTotals, readWindow } from '../../metrics/reader.js';
import { summarize } from '../../metrics/summary.js';
import type { ControlAppEnv } from '../app-env.js';
import { requireTenant } from '../lifecycle.js';
import { auditSummarized } from '../middleware.js';
import { TenantRefParam } from '../schemas.js';
import { ERRORS, jsonOk, NOT_FOUND, validationHook } from './common.js';

export const metrics = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['metrics'];

/** Prometheus' text format, version 0.0.4. */
const PROMETHEUS = 'text/plain; version=0.0.4; charset=utf-8';

function aggregatorOf(c: Context<ControlAppEnv>) {
  const ns = c.env?.METRICS_AGGREGATOR;
  if (!ns) throw new AppError(503, 'UPSTREAM_UNAVAILABLE', 'no metrics aggregator is bound (METRICS_AGGREGATOR)');
  return ns;
}

metrics.openapi(createRoute({
  method: 'get', path: '/metrics', tags, operationId: 'getMetrics',
  summary: 'Prometheus text exposition of the routers\' counters: the top tenants by volume by slug, the rest as tenant="other"',
  responses: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: z.string() } } }, ...ERRORS },
}), async (c) => {
  // First: a scrape refused for want of the aggregator is summarised too (it would recur every 15 s).
  auditSummarized(c, 'metrics.scrape');
  const { totals, unavailable } = await readTotals(aggregatorOf(c));
  return c.text(exposition(totals, { topK: c.var.services.config.METRICS_TOP_TENANTS, shardsUnavailable: unavailable }), 200, { 'content-type': PROMETHEUS });
});

const Summary = z.object({
  requests: z.object({ total: z.number(), byClass: z.record(z.string(), z.number()) }),
  refusals: z.array(z.object({ status: z.number().int(), code: z.string(), count: z.number() })),
  latency: z.object({
    count: z.number(), sumSeconds: z.number(),
    p50: z.number().nullable(), p90: z.number().nullable(), p99: z.number().nullable(),
    buckets: z.array(z.object({ le: z.string(), count: z.number() })).openapi({ description: 'Cumulative counts per upper bound (seconds)' }),
  }).openapi({ description: 'Quantiles in seconds, interpolated in the histogram\'s buckets (as histogram_quantile)' }),
  cache: z.record(z.string(), z.number()),
  guard: z.record(z.string(), z.number()),
  breaker: z.array(z.object({ target: z.string(), state: z.string(), count: z.number() })),
  dbRoundTrips: z.number(),
});
const TenantMetricsSchema = Summary.extend({
  tenantId: z.uuid(), slug: z.string(), windowMinutes: z.number().int(), from: z.string(), to: z.string(),
  regions: z.array(Summary.extend({ region: z.string() })),
}).openapi('TenantMetrics');

metrics.openapi(createRoute({
  method: 'get', path: '/tenants/{id}/metrics', tags, operationId: 'getTenantMetrics',
  summary: `A tenant's request counters, refusals and latency quantiles over the last window minutes (1–${WINDOW_MINUTES}, default ${WINDOW_MINUTES})`,
  request: { params: TenantRefParam, query: z.object({ window: z.coerce.number().int().min(1).max(WINDOW_MINUTES).default(WINDOW_MINUTES) }) },
  responses: { 200: jsonOk(TenantMetricsSchema, 'The tenant\'s metrics over the window'), ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  auditSummarized(c, 'tenant.metrics');
  const t = await requireTenant(c.var.services, c.req.valid('param').id);
  const minutes = c.req.valid('query').window;
  const ns = aggregatorOf(c);
  const w = await readWindow(ns, t.id, minutes);
  if (!w) throw new AppError(503, 'UPSTREAM_UNAVAILABLE', 'the metrics aggregator did not answer', { 'Retry-After': '5' });
  const now = Date.now();
  const from = (Math.floor(now / 60_000) - minutes + 1) * 60_000;
  return c.json({
    tenantId: t.id, slug: t.slug, windowMinutes: minutes, from: new Date(from).toISOString(), to: new Date(now).toISOString(),
    ...summarize(w.all), regions: w.regions.map((r) => ({ region: r.region, ...summarize(r.counters) })),
  }, 200);
});
