/** Token leasing against the real TenantGuard: few object calls, and never more than the limits. */
import { describe, expect, it } from 'vitest';
import { leaseSize } from '../../src/quota/lease-size.js';
import { LeasingRateLimiter, type LeaseSource } from '../../src/quota/leasing-limiter.js';
import { GuardRateLimiter } from '../../src/quota/rate-limiter.js';
import { ControlStore } from '../../src/tenancy/control-store.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import type { HolderReport, LeaseRequest } from '../../src/quota/guard-types.js';
import { stack } from '../support/helpers.js';
import { guardFor, meteredBy, workerEnv } from '../support/guards.js';

/** The real object, counting the calls made to it. */
function counting(): LeaseSource & { calls: number } {
  const inner = new GuardRateLimiter(workerEnv.TENANT_GUARD, false);
  const src = {
    calls: 0,
    lease: (t: Tenant, r: LeaseRequest) => { src.calls++; return inner.lease(t, r); },
    sync: (t: Tenant, r: HolderReport) => { src.calls++; return inner.sync(t, r); },
  };
  return src;
}

/** A fresh tenant record (own object) with the given limits. */
async function freshTenant(overrides: Partial<Tenant['tier']>): Promise<Tenant> {
  const base = (await new ControlStore(stack.control.routerUrl).find({ kind: 'slug', value: 'q-lease' }))!;
  return { ...base, id: crypto.randomUUID(), tier: { ...base.tier, ...overrides } };
}

describe('lease size', () => {
  it('is exact below 20/s and grows with the rate, bounded by the burst and 100', () => {
    expect(leaseSize({ ratePerMinute: 60, burst: 20 })).toBe(1);
    expect(leaseSize({ ratePerMinute: 1_199, burst: 1000 })).toBe(1);
    expect(leaseSize({ ratePerMinute: 3_000, burst: 500 })).toBe(2);
    expect(leaseSize({ ratePerMinute: 12_000, burst: 2_000 })).toBe(10);
    expect(leaseSize({ ratePerMinute: 60_000, burst: 200 })).toBe(20);
    expect(leaseSize({ ratePerMinute: 6_000_000, burst: 1_000_000 })).toBe(100);
  });
});

describe('LeasingRateLimiter', () => {
  it('serves a hot tenant with one object call per lease, not per request', async () => {
    const tenant = await freshTenant({ rate_per_minute: 60_000, burst: 2_000 }); // 1000/s, leases of 50
    const src = counting();
    const limiter = new LeasingRateLimiter(src);
    let admitted = 0;
    const background: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) {
      const r = await limiter.admit(tenant, 1);
      // As the middleware does: the release (and a lease's settle) runs in the background.
      if (r.ok) { admitted++; background.push(limiter.release(tenant, r.leaseId!)); }
    }
    const leaseCalls = src.calls;
    expect(admitted).toBe(500);
    expect(leaseCalls).toBeLessThanOrEqual(12);
    // Each loose lease is settled once, when it expires: at most one more call per lease.
    await Promise.all(background);
    expect(src.calls).toBeLessThanOrEqual(2 * leaseCalls);
  });

  it('holds a tenant at its limit: a concurrent flood from several isolates admits no more than the burst', async () => {
    // 100/s refill, burst 200, leases of 5 (50 ms of refill): 1000 concurrent requests over 10 isolates.
    // One isolate alone never empties the bucket if its calls take 50 ms (each lease is refilled while
    // it travels); ten at once take 10 x 5 tokens per call time, so the bucket runs dry and refuses.
    const tenant = await freshTenant({ rate_per_minute: 6_000, burst: 200 });
    const source = counting();
    const isolates = Array.from({ length: 10 }, () => new LeasingRateLimiter(source));
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => isolates[i % 10]!.admit(tenant, 1)));
    const elapsedMs = Date.now() - started;
    const admitted = results.filter((r) => r.ok).length;
    const refused = results.filter((r) => !r.ok);
    // Tokens are debited when leased: the bound is the bucket itself, burst + refill while it ran.
    expect(admitted).toBeLessThanOrEqual(200 + Math.ceil(elapsedMs / 10) + 1);
    expect(admitted).toBeGreaterThanOrEqual(150);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map((r) => r.reason))).toEqual(new Set(['RATE_LIMITED']));
    expect(refused.every((r) => (r.retryAfterMs ?? 0) > 0)).toBe(true);
  });

  it('keeps concurrency within the limit across leases', async () => {
    const tenant = await freshTenant({ rate_per_minute: 60_000, burst: 2_000, concurrency: 5 });
    const limiter = new LeasingRateLimiter(counting());
    const held = await Promise.all(Array.from({ length: 8 }, () => limiter.admit(tenant, 1)));
    expect(held.filter((r) => r.ok).length).toBe(5);
    expect(held.filter((r) => !r.ok).every((r) => r.reason === 'CONCURRENCY_LIMIT')).toBe(true);
  });

  it('gives unused tokens back when the lease expires, so the object meters exactly what was spent', async () => {
    const tenant = await freshTenant({ rate_per_minute: 60_000, burst: 2_000 });
    const limiter = new LeasingRateLimiter(counting());
    const background: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      const r = await limiter.admit(tenant, i % 3 === 0 ? 2 : 1);
      expect(r.ok).toBe(true);
      background.push(limiter.release(tenant, r.leaseId!));
    }
    // 80 spent; the open lease (50 tokens) is counted in full until its settle.
    expect(await meteredBy(guardFor(tenant))).toBeGreaterThan(80);
    await Promise.all(background);
    expect(await meteredBy(guardFor(tenant))).toBe(80);
    const state = await guardFor(tenant).inspect();
    expect(state?.grants).toEqual({});
    expect(state?.holders).toEqual({});
  });

  it('a call whose request was cancelled mid-call holds the others only until its bound; the grant it got is refunded', async () => {
    const tenant = await freshTenant({ rate_per_minute: 60_000, burst: 2_000 });
    const inner = counting();
    let first = true;
    // The first lease reaches the object (which grants it) but its answer never comes back, as
    // when the request that made it is cancelled: its promise never settles.
    const src: LeaseSource = {
      lease: (t, r) => { if (!first) return inner.lease(t, r); first = false; void inner.lease(t, r); return new Promise(() => {}); },
      sync: (t, r) => inner.sync(t, r),
    };
    const limiter = new LeasingRateLimiter(src, {}, { callTimeoutMs: 300 });
    const stuck = limiter.admit(tenant, 1).catch((err: unknown) => err);
    const t0 = Date.now();
    const second = await limiter.admit(tenant, 1);
    expect(second.ok).toBe(true);
    // It waited for the call's bound, not forever.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await stuck).toBeInstanceOf(Error);
    await limiter.release(tenant, second.leaseId!);
    await limiter.background(tenant);
    // The stuck call's grant was reported abandoned: only the one admitted unit is metered.
    expect(await meteredBy(guardFor(tenant))).toBe(1);
  });

  it('a call the object does not answer in time fails (fail mode decides), and its grant is refunded', async () => {
    const tenant = await freshTenant({ rate_per_minute: 60_000, burst: 2_000 });
    const inner = counting();
    let slow = true;
    const src: LeaseSource = {
      lease: async (t, r) => { const g = await inner.lease(t, r); if (slow) { slow = false; await new Promise((res) => setTimeout(res, 800)); } return g; },
      sync: (t, r) => inner.sync(t, r),
    };
    const limiter = new LeasingRateLimiter(src, {}, { callTimeoutMs: 300 });
    await expect(limiter.admit(tenant, 1)).rejects.toThrow(/did not answer within 300 ms/);
    const next = await limiter.admit(tenant, 1);
    expect(next.ok).toBe(true);
    await limiter.release(tenant, next.leaseId!);
    await new Promise((res) => setTimeout(res, 1_000));
    await limiter.background(tenant);
    expect(await meteredBy(guardFor(tenant))).toBe(1);
  });
});
