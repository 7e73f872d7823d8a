/** W3C traceparent parsing and the Server-Timing / access-log formatting (pure). */
import { describe, expect, it } from 'vitest';
import { traceFrom, traceparent } from '../../src/observability/trace-context.js';
import { accessLine, newRecord, serverTiming } from '../../src/observability/request-record.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('traceparent', () => {
  it('takes up a valid trace: same trace id, the caller as parent, a new span, the sampled flag', () => {
    const t = traceFrom(`00-${TRACE}-${PARENT}-01`);
    expect(t).toMatchObject({ traceId: TRACE, parentId: PARENT, sampled: true });
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(t.spanId).not.toBe(PARENT);
    expect(traceparent(t)).toBe(`00-${TRACE}-${t.spanId}-01`);
    expect(traceFrom(`00-${TRACE}-${PARENT}-00`).sampled).toBe(false);
  });

  it('starts a new trace for a missing or malformed header, never echoing it', () => {
    for (const bad of [null, '', 'garbage', `00-${TRACE.toUpperCase()}-${PARENT}-01`, `00-${'0'.repeat(32)}-${PARENT}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`, `ff-${TRACE}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01-extra`, `00-${TRACE.slice(1)}-${PARENT}-01`]) {
      const t = traceFrom(bad);
      expect(t.parentId, String(bad)).toBeNull();
      expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(t.traceId).not.toBe(TRACE);
      expect(t.sampled).toBe(false);
    }
  });

  it('accepts a future version with extra fields, as the specification asks', () => {
    expect(traceFrom(`cc-${TRACE}-${PARENT}-01-what-comes-next`)).toMatchObject({ traceId: TRACE, parentId: PARENT });
  });
});

describe('Server-Timing and the access line', () => {
  it('lists each step, the database and the total, with the cache level that found the tenant', () => {
    const r = newRecord(traceFrom(null), 0);
    r.steps.push(['tenant', 1.234], ['auth', 0], ['quota', 2.05]);
    r.cache = 'l2';
    r.dbCalls = 2;
    r.dbMs = 40.04;
    expect(serverTiming(r, 50)).toBe('tenant;dur=1.2;desc="l2", auth;dur=0, quota;dur=2.1, db;dur=40, total;dur=50');
    const line = JSON.parse(accessLine(r, { requestId: 'r1', method: 'GET', route: '/api/v1/tracks', status: 200, code: null, tenant: 't', region: 'eu', totalMs: 50 }));
    expect(line).toMatchObject({ msg: 'request', requestId: 'r1', traceId: r.trace.traceId, route: '/api/v1/tracks', status: 200, cache: 'l2', dbCalls: 2, steps: { tenant: 1.2, auth: 0, quota: 2.1 } });
  });
});
