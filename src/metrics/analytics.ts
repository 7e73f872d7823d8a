/**
 * One Workers Analytics Engine data point per request (pure mapping; docs/metrics.md has the
 * schema). The index is the tenant id, so Analytics Engine samples per tenant and a busy tenant
 * never crowds a quiet one out of a query; positions never move (new fields are appended).
 */
import { statusClass, type MetricPoint } from './series.js';

/** The binding's one method (a subset of `AnalyticsEngineDataset`). */
export interface AnalyticsSink { writeDataPoint(point: { indexes?: string[]; blobs?: string[]; doubles?: number[] }): void }

export const ANALYTICS_BLOBS = ['tenant', 'region', 'method', 'route', 'status_class', 'code', 'cache', 'guard', 'breaker', 'target'] as const;
export const ANALYTICS_DOUBLES = ['status', 'latency_ms', 'db_round_trips', 'db_ms', 'requests'] as const;

/** The data point of one request: blobs and doubles in the order of ANALYTICS_BLOBS / ANALYTICS_DOUBLES. */
export function analyticsPoint(p: MetricPoint): { indexes: string[]; blobs: string[]; doubles: number[] } {
  const r = p.record;
  return {
    indexes: [p.tenantId],
    blobs: [p.slug, p.region, p.method, p.route, statusClass(p.status), p.code ?? '', r.cache ?? '', r.guard ?? '', r.breaker ?? '', p.target],
    doubles: [p.status, Math.round(p.latencyMs * 10) / 10, r.dbCalls, Math.round(r.dbMs * 10) / 10, 1],
  };
}
