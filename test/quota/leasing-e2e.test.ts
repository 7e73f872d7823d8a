/**
 * Regression (defect 1): token leasing leaked in-flight counts across refills and locked a busy
 * PREMIUM tenant out with 429 CONCURRENCY_LIMIT. A fresh tenant with the tier's default limits
 * (3,000/min, burst 500, 50 concurrent) is loaded by 8 concurrent clients on a real-DB route.
 */
import { describe, expect, it } from 'vitest';
import { call } from '../support/helpers.js';
import { createViaApi, tokenFor } from '../support/control.js';
import { guardFor, meteredBy } from '../support/guards.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLIENTS = 8;
const SECONDS = 8;
/** Each client at most this often: 8 × 10/s × 8 s = 640 units, inside burst 500 + 50/s × 8 s = 900. */
const MIN_GAP_MS = 100;

describe('leasing under steady concurrent load (defect 1)', () => {
  it('never refuses a PREMIUM tenant within its limits, keeps serving afterwards, and meters exactly what it admitted', async () => {
    const t = await createViaApi({ tier: 'PREMIUM', overrides: {} });
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    const statuses = new Map<number, number>();
    const codes = new Map<string, number>();
    const endAt = Date.now() + SECONDS * 1000;
    const client = async () => {
      while (Date.now() < endAt) {
        const started = Date.now();
        const res = await call(host, '/api/v1/tracks', { token });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 429) {
          const code = ((await res.json()) as { error: { code: string } }).error.code;
          codes.set(code, (codes.get(code) ?? 0) + 1);
        } else await res.arrayBuffer();
        await sleep(Math.max(0, MIN_GAP_MS - (Date.now() - started)));
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    expect(Object.fromEntries(codes)).toEqual({});
    expect(statuses.get(429) ?? 0).toBe(0);
    const served = statuses.get(200) ?? 0;
    expect(served).toBeGreaterThan(100);
    expect([...statuses.keys()]).toEqual([200]);

    // Afterwards, one request a second is still served.
    for (let i = 0; i < 3; i++) {
      await sleep(1000);
      expect((await call(host, '/api/v1/tracks', { token })).status).toBe(200);
    }
    // Unused leased tokens go back a lease TTL after the last use; then the object meters
    // exactly the units the router admitted (one per GET).
    await sleep(2_500);
    expect(await meteredBy(guardFor(t))).toBe(served + 3);
    const state = await guardFor(t).inspect();
    expect(state?.grants).toEqual({});
    expect(Object.values(state?.holders ?? {}).every((h) => h.inflight === 0)).toBe(true);
  }, 60_000);
});
