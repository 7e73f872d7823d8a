/**
 * What one request did, filled in by the pipeline's steps as it goes (pure): the time each step
 * took, the cache level that found the tenant, the guard's and the breaker's verdicts, the
 * database round trips. It becomes the `Server-Timing` header and the access-log line.
 */
import type { TraceContext } from './trace-context.js';

/** The level that answered the tenant lookup (`joined`: another request's lookup in flight). */
export type CacheLevel = 'l1' | 'l2' | 'l3' | 'joined';
/** The guard's verdict: admitted, refused (with the code), or not asked (fail-open / fail-closed). */
export type GuardOutcome = 'admitted' | 'fail-open' | 'fail-closed' | `refused:${string}`;
export type BreakerOutcome = 'closed' | 'probe' | 'open' | 'unreachable';

export interface RequestRecord {
  trace: TraceContext;
  startedAt: number;
  steps: [string, number][];
  /** The steps that handed the request on (rather than answering it themselves). */
  passed: string[];
  cache: CacheLevel | null;
  guard: GuardOutcome | null;
  breaker: BreakerOutcome | null;
  dbCalls: number;
  dbMs: number;
}

export const newRecord = (trace: TraceContext, startedAt: number): RequestRecord =>
  ({ trace, startedAt, steps: [], passed: [], cache: null, guard: null, breaker: null, dbCalls: 0, dbMs: 0 });

const ms = (n: number) => Math.max(0, Math.round(n * 10) / 10);

/**
 * `Server-Timing`: each step's duration, the database time, the total. On Workers the clock only
 * moves across I/O, so a step that did none shows 0: what is shown is where the time went waiting.
 */
export function serverTiming(r: RequestRecord, totalMs: number): string {
  const parts = r.steps.map(([name, d]) => (name === 'tenant' && r.cache ? `tenant;dur=${ms(d)};desc="${r.cache}"` : `${name};dur=${ms(d)}`));
  if (r.dbCalls > 0) parts.push(`db;dur=${ms(r.dbMs)}`);
  parts.push(`total;dur=${ms(totalMs)}`);
  return parts.join(', ');
}

export interface AccessFields {
  requestId: string;
  method: string;
  route: string;
  status: number;
  code: string | null;
  tenant: string | null;
  region: string | null;
  totalMs: number;
}

/**
 * The access-log line (one JSON object; no headers, no query string, no token), built once per
 * request as one flat object and one string: it is the one `console.log` argument, so the runtime
 * has no object to serialise or preview.
 */
export function accessLine(r: RequestRecord, f: AccessFields): string {
  const steps: Record<string, number> = {};
  for (const [n, d] of r.steps) steps[n] = ms(d);
  return JSON.stringify({
    level: 'info', msg: 'request', requestId: f.requestId, traceId: r.trace.traceId, spanId: r.trace.spanId,
    method: f.method, route: f.route, status: f.status, code: f.code, tenant: f.tenant, region: f.region,
    ms: ms(f.totalMs), cache: r.cache, guard: r.guard, breaker: r.breaker, dbCalls: r.dbCalls, dbMs: ms(r.dbMs),
    steps,
  });
}
