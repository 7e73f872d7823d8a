import { createMiddleware } from 'hono/factory';
import { matchedRoutes } from 'hono/route';
import type { Context, MiddlewareHandler } from 'hono';
import { accessLine, newRecord, serverTiming, type RequestRecord } from '../observability/request-record.js';
import { traceFrom, traceparent } from '../observability/trace-context.js';
import { pointOf, type PointTenant } from '../metrics/series.js';
import type { MetricsBindings, MetricsRecorder } from '../metrics/recorder.js';
import type { RequestContextVars } from './request-context.js';

export interface ObserveVars { record: RequestRecord; errorCode?: string }

export interface ObserveOptions {
  /** Where the access-log line goes (console.log: Workers Logs / Logpush); null: no access log. */
  log?: ((line: string) => void) | null;
  now?: () => number;
  /** The isolate's metrics, fed from the same record (null or absent: none). */
  metrics?: MetricsRecorder | null;
}

/** The request's `waitUntil`, or null where there is no execution context (app.request in a test). */
function waitUntilOf(c: Context): ((work: Promise<unknown>) => void) | null {
  try { const ctx = c.executionCtx; return (work) => ctx.waitUntil(work); } catch { return null; }
}

/** The route pattern that answered (`/api/v1/tracks/:id`), never the raw path (no ids in metrics). */
function routeOf(c: Context): string {
  const routes = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return routes.at(-1)?.path ?? 'unmatched';
}

/**
 * Observes every request: takes up the caller's W3C trace (or starts one), and once the answer
 * is ready adds `traceparent` (this request's span) and, once the caller is authenticated,
 * `Server-Timing` (each step, the database, the total) to it, writes one access-log line and
 * hands the same record to the isolate's metrics. The steps fill in `record` as they go.
 */
export const observe = (opts: ObserveOptions = {}) => {
  const log = opts.log === undefined ? (line: string) => console.log(line) : opts.log;
  const now = opts.now ?? (() => performance.now());
  return createMiddleware<{ Variables: RequestContextVars & ObserveVars & { tenant?: PointTenant } }>(async function observe(c, next) {
    const t0 = now();
    const record = newRecord(traceFrom(c.req.header('traceparent')), t0);
    c.set('record', record);
    await next();
    const total = now() - t0;
    try {
      c.res.headers.set('traceparent', traceparent(record.trace));
      // Only to an authenticated caller: before that, which step refused (and how long it took)
      // would tell an unknown tenant or issuer from a known one with a bad token.
      if (record.passed.includes('auth')) c.res.headers.set('Server-Timing', serverTiming(record, total));
    } catch { /* an immutable response: it keeps its own headers */ }
    // c.get, not c.var: Hono builds a new object of every variable on each c.var read.
    const tenant = c.get('tenant') ?? null;
    const route = routeOf(c);
    const code = c.get('errorCode') ?? null;
    log?.(accessLine(record, {
      requestId: c.get('requestId'), method: c.req.method, route, status: c.res.status, code,
      tenant: tenant?.id ?? null, region: tenant ? tenant.placement?.region ?? tenant.region : null, totalMs: total,
    }));
    opts.metrics?.record(pointOf(record, { tenant, method: c.req.method, route, status: c.res.status, code, totalMs: total }),
      (c.env ?? {}) as MetricsBindings, waitUntilOf(c));
  });
};

/**
 * `mw` with the time until it hands on (or answers) recorded as step `name`: the part of the
 * request it is responsible for, not the steps after it.
 */
export function timed<M extends MiddlewareHandler>(name: string, mw: M, now: () => number = () => performance.now()): M {
  return (async (c: Context, next: () => Promise<void>) => {
    const record = (c.get as (key: string) => unknown)('record') as RequestRecord | undefined;
    const t0 = now();
    let handedOn = false;
    const stop = () => { if (!handedOn) { handedOn = true; record?.steps.push([name, now() - t0]); } };
    try {
      return await mw(c, async () => { stop(); record?.passed.push(name); await next(); });
    } finally {
      stop();
    }
  }) as unknown as M;
}
