import { describe, expect, it } from 'vitest';
import { checkMonthly, monthOf, msToNextMonth } from '../../src/quota/monthly.js';
import { fullBucket, take } from '../../src/quota/token-bucket.js';

const limits = { ratePerMinute: 60, burst: 3 }; // one token a second, three at most

describe('token bucket', () => {
  it('admits the burst, then refuses with the time until the next token', () => {
    let s = fullBucket(limits, 0);
    for (let i = 0; i < 3; i++) {
      const r = take(s, limits, 1, 0);
      expect(r.ok).toBe(true);
      s = r.state;
    }
    const refused = take(s, limits, 1, 0);
    expect(refused).toMatchObject({ ok: false, remaining: 0, retryAfterMs: 1000 });
  });

  it('refills continuously and never beyond the burst', () => {
    const empty = { tokens: 0, updatedAt: 0 };
    expect(take(empty, limits, 1, 999).ok).toBe(false);
    expect(take(empty, limits, 1, 1000).ok).toBe(true);
    const r = take(empty, limits, 1, 3_600_000);
    expect(r.ok && r.remaining).toBe(2);
  });

  it('charges weights and refuses a weight it cannot yet afford', () => {
    const s = fullBucket(limits, 0);
    const r = take(s, limits, 2, 0);
    expect(r).toMatchObject({ ok: true, remaining: 1 });
    expect(take(r.state, limits, 2, 0)).toMatchObject({ ok: false, retryAfterMs: 1000 });
    expect(() => take(s, limits, 4, 0)).toThrow(RangeError);
    expect(() => take(s, limits, 0, 0)).toThrow(RangeError);
  });

  it('ignores a clock that steps backwards', () => {
    const s = { tokens: 1, updatedAt: 10_000 };
    const r = take(s, limits, 1, 5_000);
    expect(r.ok).toBe(true);
    expect(r.state.updatedAt).toBe(10_000);
    expect(take(r.state, limits, 1, 10_500).ok).toBe(false);
    expect(take(r.state, limits, 1, 11_000).ok).toBe(true);
  });

  it('reports the time until the bucket is full again as reset', () => {
    const r = take(fullBucket(limits, 0), limits, 3, 0);
    expect(r.resetMs).toBe(3000);
  });
});

describe('monthly quota', () => {
  it('names the UTC month and the time to the next one, across year ends', () => {
    expect(monthOf(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).toBe('2026-12');
    expect(monthOf(Date.UTC(2027, 0, 1))).toBe('2027-01');
    expect(msToNextMonth(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).toBe(1);
    expect(msToNextMonth(Date.UTC(2026, 1, 1))).toBe(28 * 86_400_000);
  });

  it('refuses past a hard cap until the month turns', () => {
    const hard = { monthlyRequests: 10, hardCap: true };
    expect(checkMonthly(9, hard, 1, 0)).toMatchObject({ ok: true, used: 10, overage: 0 });
    const r = checkMonthly(10, hard, 1, Date.UTC(2026, 10, 30, 12));
    expect(r).toMatchObject({ ok: false, retryAfterMs: 12 * 3_600_000 });
    expect(checkMonthly(8, hard, 3, 0).ok).toBe(false);
  });

  it('meters overage on a soft cap instead of refusing', () => {
    expect(checkMonthly(10, { monthlyRequests: 10, hardCap: false }, 2, 0)).toEqual({ ok: true, used: 12, overage: 2 });
  });
});
