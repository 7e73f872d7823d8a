/** Quotas at the edge: burst, weights, monthly cap and overage, concurrency, headers, fail modes. */
import { describe, expect, it } from 'vitest';
import { call, errorOf, platformToken, postJson, tenant } from '../support/helpers.js';
import { guardOf } from '../support/guards.js';

const get = async (slug: string) => call(`${slug}.localhost`, '/api/v1/tracks', { token: await platformToken(slug) });

describe('rate limit', () => {
  it('a concurrent burst over the limit admits exactly the burst and refuses the rest with headers', async () => {
    // q-rate: burst 5, 60/min. 12 at once.
    const token = await platformToken('q-rate');
    const res = await Promise.all(Array.from({ length: 12 }, () => call('q-rate.localhost', '/api/v1/tracks', { token })));
    const ok = res.filter((r) => r.status === 200);
    const refused = res.filter((r) => r.status === 429);
    expect(ok.length).toBe(5);
    expect(refused.length).toBe(7);
    for (const r of ok) {
      expect(r.headers.get('ratelimit-limit')).toBe('5');
      expect(Number(r.headers.get('ratelimit-remaining'))).toBeGreaterThanOrEqual(0);
      expect(Number(r.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    }
    for (const r of refused) {
      expect((await errorOf(r)).code).toBe('RATE_LIMITED');
      expect(r.headers.get('ratelimit-remaining')).toBe('0');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('route weights', () => {
  it('a write costs two units, a read one', async () => {
    const stub = guardOf('q-overage');
    const before = Object.values(await stub.admitted()).reduce((a, b) => a + b, 0);
    const token = await platformToken('q-overage');
    expect((await postJson('q-overage.localhost', '/api/v1/tracks', { title: 'w', artist: 'w', durationMs: 1 }, token)).status).toBe(201);
    expect((await call('q-overage.localhost', '/api/v1/tracks', { token })).status).toBe(200);
    const after = Object.values(await stub.admitted()).reduce((a, b) => a + b, 0);
    expect(after - before).toBe(3);
  });
});

describe('monthly quota', () => {
  it('a hard cap (FREE) refuses with 429 QUOTA_EXCEEDED once the month is used up', async () => {
    // q-month: 6 units a month, hard cap.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await get('q-month')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    const last = await get('q-month');
    expect((await errorOf(last)).code).toBe('QUOTA_EXCEEDED');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('a paid tier meters overage instead of refusing', async () => {
    // q-overage: 3 units a month, no hard cap.
    for (let i = 0; i < 5; i++) expect((await get('q-overage')).status).toBe(200);
    const used = Object.values(await guardOf('q-overage').admitted()).reduce((a, b) => a + b, 0);
    expect(used).toBeGreaterThan(3);
  });
});

describe('concurrency', () => {
  it('refuses with 429 CONCURRENCY_LIMIT while the tenant holds all its leases, and admits after release', async () => {
    // q-conc: 2 concurrent. Hold two leases as two in-flight requests would.
    const stub = guardOf('q-conc');
    const limits = { ratePerMinute: 600_000, burst: 10_000, monthlyRequests: 100_000_000, hardCap: false, concurrency: 2 };
    const held = await Promise.all([0, 1].map(() => stub.admit({ tenantId: tenant('q-conc').id, cost: 1, limits })));
    expect(held.every((h) => h.ok)).toBe(true);
    const refused = await get('q-conc');
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).code).toBe('CONCURRENCY_LIMIT');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await stub.release(held[0]!.leaseId!);
    expect((await get('q-conc')).status).toBe(200);
    await stub.release(held[1]!.leaseId!);
  });

  it('releases the lease when the response is done', async () => {
    // Sequential requests never exceed one in flight, however many there are.
    for (let i = 0; i < 6; i++) expect((await get('q-conc')).status).toBe(200);
  });
});
