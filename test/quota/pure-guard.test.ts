/** Pure parts of the guard: state transitions, flush bookkeeping, back-off, object naming. */
import { describe, expect, it } from 'vitest';
import { backoffMs, dirtyMonths, markFlushed } from '../../src/quota/guard-flush.js';
import { admitOne, lease, releaseOne, sync } from '../../src/quota/guard-ops.js';
import { freshState, HOLDER_TTL_MS } from '../../src/quota/guard-state.js';
import type { GuardLimits, LeaseRequest } from '../../src/quota/guard-types.js';
import { guardName } from '../../src/quota/rate-limiter.js';

const limits: GuardLimits = { ratePerMinute: 60_000, burst: 100, monthlyRequests: 1_000, hardCap: false, concurrency: 8 };
const T0 = Date.UTC(2026, 4, 10, 12);
const req = (over: Partial<LeaseRequest> = {}): LeaseRequest =>
  ({ tenantId: 't', holderId: 'h1', grantId: crypto.randomUUID(), want: 20, cost: 1, inflight: 0, ttlMs: 1000, limits, ...over });

describe('guard state', () => {
  it('frees the slots of a holder that stopped calling (its isolate died)', () => {
    const s = freshState('s');
    expect(lease(s, req({ inflight: 7, want: 1 }), T0)).toMatchObject({ ok: true, allowance: 8 });
    expect(lease(s, req({ holderId: 'h2' }), T0 + 1000)).toMatchObject({ ok: false, reason: 'CONCURRENCY_LIMIT' });
    expect(lease(s, req({ holderId: 'h2' }), T0 + HOLDER_TTL_MS + 1)).toMatchObject({ ok: true });
  });

  it('counts headroom only until the grant (plus a grace) expires', () => {
    const s = freshState('s');
    expect(lease(s, req(), T0)).toMatchObject({ mode: 'loose', allowance: 4 });
    // h1 may hold 4 of 8: h2 gets exactly its request while that lasts, headroom again after.
    expect(lease(s, req({ holderId: 'h2' }), T0 + 500)).toMatchObject({ mode: 'exact', allowance: 1 });
    expect(lease(s, req({ holderId: 'h2', inflight: 1 }), T0 + 2000)).toMatchObject({ mode: 'loose', allowance: 3 });
  });

  it('caps a grant by the hard monthly cap and charges a cost above the burst as the burst', () => {
    const s = freshState('s');
    const capped = { ...limits, hardCap: true, monthlyRequests: 5 };
    expect(lease(s, req({ limits: capped }), T0)).toMatchObject({ ok: true, tokens: 5 });
    sync(s, { tenantId: 't', holderId: 'h1', inflight: 0, returned: [], limits: capped }, T0);
    expect(lease(s, req({ limits: capped }), T0)).toMatchObject({ ok: false, reason: 'QUOTA_EXCEEDED' });
    expect(lease(freshState('x'), req({ cost: 500, want: 500 }), T0)).toMatchObject({ ok: true, tokens: 100 });
  });

  it('a late lease (reported abandoned first) does not bring back a forgotten holder with its old count', () => {
    const s = freshState('s');
    sync(s, { tenantId: 't', holderId: 'h1', inflight: 0, abandoned: ['g-late'], limits }, T0);
    expect(lease(s, req({ grantId: 'g-late', inflight: 7 }), T0 + 10)).toMatchObject({ ok: false, tokens: 0 });
    expect(s.holders.h1).toBeUndefined();
    // Another isolate is not refused for the 7 the late call carried.
    expect(lease(s, req({ holderId: 'h2', inflight: 0 }), T0 + 20)).toMatchObject({ ok: true });
  });

  it('an abandoned grant takes its headroom with it', () => {
    const s = freshState('s');
    const g = lease(s, req({ grantId: 'g1' }), T0);
    expect(g).toMatchObject({ ok: true, mode: 'loose', allowance: 4 });
    // h1's headroom (3 beyond its one request) counts against others until it is given up.
    expect(lease(s, req({ holderId: 'h2' }), T0 + 10)).toMatchObject({ mode: 'exact' });
    sync(s, { tenantId: 't', holderId: 'h1', inflight: 0, abandoned: ['g1'], limits }, T0 + 20);
    expect(s.holders.h1?.headroom ?? 0).toBe(0);
  });

  it('keeps per-request leases apart from isolate holders', () => {
    const s = freshState('s');
    const r = admitOne(s, { tenantId: 't', cost: 2, limits: { ...limits, concurrency: 1 } }, 'abc', T0);
    expect(r).toMatchObject({ ok: true, leaseId: 'lease:abc' });
    expect(releaseOne(s, 'h1')).toBe(false);
    expect(releaseOne(s, 'lease:abc')).toBe(true);
    expect(s.holders).toEqual({});
  });
});

describe('flush bookkeeping', () => {
  it('flushes months whose total changed and forgets old flushed ones', () => {
    const s = freshState('s');
    s.usage = { '2026-02': { admitted: 3, flushed: 3 }, '2026-04': { admitted: 5, flushed: 5 }, '2026-05': { admitted: 9, flushed: 4 } };
    expect(dirtyMonths(s)).toEqual([['2026-05', 9, 0, 0]]);
    markFlushed(s, [['2026-05', 9, 0, 0]], '2026-05');
    expect(s.usage).toEqual({ '2026-04': { admitted: 5, flushed: 5 }, '2026-05': { admitted: 9, flushed: 9, flushedReqBytes: 0, flushedResBytes: 0 } });
  });

  it('backs off exponentially from 5 s to a 5 min cap, with half of each delay random', () => {
    expect([backoffMs(1, 0), backoffMs(1, 0.999999999)]).toEqual([2_500, 5_000]);
    expect([backoffMs(3, 0), backoffMs(3, 0.999999999)]).toEqual([10_000, 20_000]);
    expect([backoffMs(7, 0), backoffMs(50, 0.999999999)]).toEqual([150_000, 300_000]);
  });
});

describe('guard naming (defect 5)', () => {
  it('names the object by tenant id in its fixed guard jurisdiction, whatever the residency', () => {
    const id = '6f1b7c8e-2a4d-4e4b-9c1a-1d2e3f405162';
    const name = `tenant:${id}`;
    // Records as the router reads them: created non-EU then made EU-resident, and the reverse.
    const madeEu = { id, guardJurisdiction: 'global' as const, residency: 'EU' };
    const leftEu = { id, guardJurisdiction: 'eu' as const, residency: null };
    expect(guardName(madeEu, true)).toEqual({ name, jurisdiction: null });
    expect(guardName(leftEu, true)).toEqual({ name, jurisdiction: 'eu' });
    // A runtime without jurisdictions (local workerd) only drops the jurisdiction, never the name.
    expect(guardName({ id, guardJurisdiction: 'eu' }, false)).toEqual({ name, jurisdiction: null });
  });
});
