/** Token leasing against the real TenantGuard: few object calls, and never more than the limits. */
import { describe, expect, it } from 'vitest';
import { leaseSize } from '../../src/quota/lease-size.js';
import { LeasingRateLimiter, type LeaseSource } from '../../src/quota/leasing-limiter.js';
import { GuardRateLimiter } from '../../src/quota/rate-limiter.js';
import { ControlStore } from '../../src/tenancy/control-store.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { stack } from '../support/helpers.js';
import { workerEnv } from '../support/guards.js';

/** The real object, counting the calls made to it. */
function counting(): LeaseSource & { calls: number } {
  const inner = new GuardRateLimiter(workerEnv.TENANT_GUARD, false);
  const src = {
    calls: 0,
    admit: (t: Tenant, c: number) => { src.calls++; return inner.admit(t, c); },
    release: (t: Tenant, id: string) => { src.calls++; return inner.release(t, id); },
    lease: (t: Tenant, r: Parameters<LeaseSource['lease']>[1]) => { src.calls++; return inner.lease(t, r); },
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
    for (let i = 0; i < 500; i++) {
      const r = await limiter.admit(tenant, 1);
      if (r.ok) { admitted++; await limiter.release(tenant, r.leaseId!); }
    }
    expect(admitted).toBe(500);
    expect(src.calls).toBeLessThanOrEqual(12);
  });

  it('holds a tenant at its limit: a concurrent flood admits no more than the burst', async () => {
    // 100/s refill, burst 200, leases of 5: 600 concurrent requests.
    const tenant = await freshTenant({ rate_per_minute: 6_000, burst: 200 });
    const limiter = new LeasingRateLimiter(counting());
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 600 }, () => limiter.admit(tenant, 1)));
    const elapsedMs = Date.now() - started;
    const admitted = results.filter((r) => r.ok).length;
    const refused = results.filter((r) => !r.ok);
    // Tokens are debited when leased: the bound is the bucket itself, burst + refill while it ran.
    expect(admitted).toBeLessThanOrEqual(200 + Math.ceil(elapsedMs / 10) + 1);
    expect(admitted).toBeGreaterThanOrEqual(150);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((r) => r.reason === 'RATE_LIMITED' && (r.retryAfterMs ?? 0) > 0)).toBe(true);
  });

  it('keeps concurrency within the limit across leases', async () => {
    const tenant = await freshTenant({ rate_per_minute: 60_000, burst: 2_000, concurrency: 5 });
    const limiter = new LeasingRateLimiter(counting());
    const held = await Promise.all(Array.from({ length: 8 }, () => limiter.admit(tenant, 1)));
    expect(held.filter((r) => r.ok).length).toBe(5);
    expect(held.filter((r) => !r.ok).every((r) => r.reason === 'CONCURRENCY_LIMIT')).toBe(true);
  });

  it('returns unused tokens with the next lease, so the object meters what was spent plus one open lease', async () => {
    const tenant = await freshTenant({ rate_per_minute: 60_000, burst: 2_000 });
    const limiter = new LeasingRateLimiter(counting(), (() => { let t = Date.now(); return () => (t += 0); })());
    for (let i = 0; i < 60; i++) await limiter.admit(tenant, 1);
    const stub = new GuardRateLimiter(workerEnv.TENANT_GUARD, false).stub(tenant);
    const metered = Object.values(await stub.admitted()).reduce((a, b) => a + b, 0);
    // 60 spent; the current lease (50 tokens) is at most partly spent and counted in full.
    expect(metered).toBeGreaterThanOrEqual(60);
    expect(metered).toBeLessThan(60 + leaseSize({ ratePerMinute: 60_000, burst: 2_000 }));
  });
});
